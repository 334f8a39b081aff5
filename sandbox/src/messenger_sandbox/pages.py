"""The demo's "phones": an index of simulated citizens and one chat page per phone.

Plain HTML and CSS, no external assets, readable on a 360 px screen. A tiny script reloads the
chat when a new message arrives (unless the citizen is typing).
"""

import html
import re
import time
from urllib.parse import parse_qs
from urllib.parse import quote
from urllib.parse import urlsplit

from messenger_sandbox import citizens
from messenger_sandbox import config as sandbox_config
from messenger_sandbox.httpserver import BadRequest
from messenger_sandbox.httpserver import Response

TITLES = {
    "telegram": "Telegram",
    "whatsapp": "WhatsApp",
    "signal": "Signal",
    "threema": "Threema",
}
COLOURS = {
    "telegram": "#2a9fd6",
    "whatsapp": "#128c7e",
    "signal": "#3a76f0",
    "threema": "#05a63f",
}

CSS = """
*{box-sizing:border-box}body{margin:0;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
background:#ece5dd;color:#111}a{color:#0b62a4}header{position:sticky;top:0;color:#fff;padding:10px 12px;
display:flex;align-items:center;gap:10px;z-index:1}header a{color:#fff;text-decoration:none;font-size:20px}
header h1{font-size:17px;margin:0;line-height:1.2}header small{display:block;font-size:12px;opacity:.85}
main{max-width:640px;margin:0 auto;padding:10px 8px 150px}.msg{max-width:85%;margin:6px 0;padding:7px 9px 4px;
border-radius:10px;background:#fff;box-shadow:0 1px 1px rgba(0,0,0,.12);overflow-wrap:anywhere;clear:both}
.out{float:left;border-top-left-radius:2px}.in{float:right;background:#dcf8c6;border-top-right-radius:2px}
.msg img{display:block;max-width:100%;border-radius:6px;margin:0 0 6px}.msg time{display:block;text-align:right;
font-size:11px;color:#667}.buttons{margin-top:6px}.buttons a{display:block;text-align:center;padding:7px;
border-top:1px solid #e3e3e3;text-decoration:none;font-weight:600}.footer{font-size:12px;color:#667;margin-top:4px}
.event{clear:both;text-align:center;font-size:12px;color:#445;background:#fff8c4;border-radius:8px;padding:4px 8px;
margin:10px auto;width:fit-content}.clear{clear:both}.spoiler{background:#999;color:#999}
.spoiler:hover{color:#111;background:none}pre,code{font-family:ui-monospace,monospace;font-size:13px;
white-space:pre-wrap}blockquote{margin:4px 0;padding-left:8px;border-left:3px solid #8ab}
form.compose{position:fixed;left:0;right:0;bottom:0;background:#f6f6f6;border-top:1px solid #ccc;padding:8px}
form.compose div,.row{display:flex;gap:6px;max-width:640px;margin:0 auto 6px}input,select{flex:1;min-width:0;
font:inherit;padding:8px;border:1px solid #bbb;border-radius:18px}button{font:inherit;padding:8px 12px;border:0;
border-radius:18px;color:#fff;cursor:pointer}.phones{list-style:none;padding:0;margin:0}.phones li{background:#fff;
margin:6px 0;border-radius:8px;padding:8px 10px}.phones a{font-weight:600;text-decoration:none}
.phones small{display:block;color:#556;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
h2{font-size:15px;margin:16px 0 4px}.card{background:#fff;border-radius:8px;padding:10px;margin:10px 0}
"""

REFRESH = """<script>
(function(){var n=%d;window.scrollTo(0,document.body.scrollHeight);setInterval(function(){fetch(location.pathname.replace(/\\/$/,'')+'/count')
.then(function(r){return r.json()}).then(function(d){var a=document.activeElement;
if(d.count!==n&&!(a&&a.tagName==='INPUT'&&a.value)){location.reload()}}).catch(function(){})},1500)})();
</script>"""


def _page(title, colour, header, body, script=""):
    return Response.html(
        f'<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}button{{background:{colour}}}</style></head>"
        f'<body><header style="background:{colour}">{header}</header><main>{body}</main>{script}</body></html>'
    )


def _phone_url(channel, address, action=""):
    url = f"/_sandbox/phone/{channel}/{quote(address, safe='+')}"
    return f"{url}/{action}" if action else url


def index(sandbox):
    state = sandbox.state
    sections = []
    for channel in sandbox_config.CHANNELS:
        phones = [p for p in state.phones.values() if p.channel == channel]
        items = []
        for phone in sorted(
            phones, key=lambda p: -(p.messages[-1]["time"] if p.messages else 0)
        ):
            last = phone.messages[-1] if phone.messages else None
            preview = (
                html.escape((last["text"] or last["kind"])[:80])
                if last
                else "noch keine Nachrichten"
            )
            items.append(
                f'<li><a href="{_phone_url(channel, phone.address)}">{html.escape(phone.name)}</a> '
                f"<span>{html.escape(phone.address)}</span><small>{preview}</small></li>"
            )
        stats = state.stats[channel].as_dict()
        sections.append(
            f'<h2 style="color:{COLOURS[channel]}">{TITLES[channel]} '
            f"<small>({stats['accepted']} angenommen)</small></h2>"
            f'<ul class="phones">{"".join(items) or "<li><small>keine Telefone</small></li>"}</ul>'
        )
    options = "".join(
        f'<option value="{c}">{TITLES[c]}</option>' for c in sandbox_config.CHANNELS
    )
    body = (
        "".join(sections)
        + '<div class="card"><form method="post" action="/_sandbox/phones">'
        '<div class="row"><select name="channel" aria-label="Kanal">'
        + options
        + "</select>"
        '<input name="address" placeholder="Chat-ID, Nummer oder ID" aria-label="Adresse" required></div>'
        '<div class="row"><input name="name" placeholder="Name (optional)" aria-label="Name">'
        "<button>Telefon öffnen</button></div></form>"
        '<p><a href="/_sandbox/stats">Statistik (JSON)</a> · <a href="/_sandbox/messages">Nachrichten (JSON)</a> · '
        '<a href="/_sandbox/config">Konfiguration (JSON)</a> · <a href="/_sandbox/settings">Worker-Einstellungen</a></p></div>'
    )
    header = "<div><h1>Messenger-Sandbox</h1><small>simulierte Telefone</small></div>"
    return _page("Messenger-Sandbox", "#37474f", header, body)


def new_phone(sandbox, request):
    try:
        form = request.form()
        channel = form.get("channel")
        address = citizens.validate_address(channel, form.get("address", ""))
    except (ValueError, BadRequest) as error:
        return Response(400, str(error))
    sandbox.state.phone(channel, address, form.get("name", ""))
    return Response.redirect(_phone_url(channel, address))


def phone_route(sandbox, request, channel, address, action):
    address = citizens.normalize(channel, address)
    if action == "" and request.method in ("GET", "HEAD"):
        return phone_page(sandbox, channel, address)
    if action == "count":
        phone = sandbox.state.phones.get((channel, address))
        return Response.json({"count": len(phone.messages) if phone else 0})
    if request.method != "POST" or action not in ("send", "start", "block", "unblock"):
        return Response(404, "Not Found")
    try:
        form = request.form()
    except BadRequest as error:
        return Response(400, str(error))
    data = {"channel": channel, "address": address}
    if action == "send":
        data.update(
            text=form.get("text", "").strip(), photo=form.get("photo", "").strip()
        )
        if not data["text"] and not data["photo"]:
            return Response.redirect(_phone_url(channel, address))
    elif action == "start":
        data["text"] = start_text(channel, form.get("link", ""))
        if not data["text"]:
            return Response.redirect(_phone_url(channel, address))
    else:
        data["action"] = action
    try:
        arguments = citizens.validate(data)
    except ValueError as error:
        return Response(400, str(error))
    return _play_and_return(sandbox, arguments)


async def _play_and_return(sandbox, arguments):
    await citizens.play(sandbox, **arguments)
    return Response.redirect(_phone_url(arguments["channel"], arguments["address"]))


def start_text(channel, link):
    """The first message a deep link makes: "/start TOKEN" (Telegram), "START TOKEN" (WhatsApp)."""
    link = link.strip()
    if not link:
        return ""
    query = parse_qs(urlsplit(link).query) if "?" in link else {}
    if channel == "telegram":
        token = (query.get("start") or [None])[0] or (
            link if "://" not in link and "?" not in link else ""
        )
        token = token.removeprefix("/start").strip()
        return f"/start {token}" if token else "/start"
    if channel == "whatsapp":
        text = (query.get("text") or [None])[0] or (link if "://" not in link else "")
        text = text.strip()
        return text if text.upper().startswith("START") else f"START {text}".strip()
    return link


# -- rendering ---------------------------------------------------------------------------------


def _whatsapp_markup(text):
    text = html.escape(text, quote=False)
    text = re.sub(r"```(.+?)```", r"<code>\1</code>", text, flags=re.S)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<b>\1</b>", text)
    text = re.sub(r"(?<![\w_])_(?!\s)(.+?)(?<!\s)_(?![\w_])", r"<i>\1</i>", text)
    text = re.sub(r"(?<![\w~])~(?!\s)(.+?)(?<!\s)~(?![\w~])", r"<s>\1</s>", text)
    return text.replace("\n", "<br>")


def _signal_markup(text):
    text = html.escape(text, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text, flags=re.S)
    text = re.sub(r"(?<!\*)\*(?!\s)(.+?)(?<!\s)\*(?!\*)", r"<i>\1</i>", text)
    text = re.sub(r"~(.+?)~", r"<s>\1</s>", text)
    text = re.sub(r"`(.+?)`", r"<code>\1</code>", text)
    text = re.sub(r"\|\|(.+?)\|\|", r'<span class="spoiler">\1</span>', text)
    return text.replace("\n", "<br>")


def _body_html(entry):
    if entry.get("html") is not None and entry["direction"] == "out":
        return entry["html"]
    text = entry.get("text") or ""
    if entry["direction"] == "out" and entry["channel"] == "whatsapp":
        return _whatsapp_markup(text)
    if (
        entry["direction"] == "out"
        and entry["channel"] == "signal"
        and entry.get("text_mode") == "styled"
    ):
        return _signal_markup(text)
    return html.escape(text, quote=False).replace("\n", "<br>")


def _bubble(entry):
    if entry["kind"] == "event":
        return f'<div class="event">{html.escape(entry["text"])}</div>'
    parts = [f'<div class="msg {entry["direction"]}">']
    image = entry.get("image")
    if image and (image.startswith(("http://", "https://", "data:image/"))):
        parts.append(f'<img src="{html.escape(image)}" alt="Bild" loading="lazy">')
    elif image:
        parts.append(f'<div class="footer">📎 {html.escape(image)}</div>')
    parts.append(f"<div>{_body_html(entry)}</div>")
    if entry.get("footer"):
        parts.append(f'<div class="footer">{html.escape(entry["footer"])}</div>')
    stamp = time.strftime("%H:%M", time.localtime(entry["time"]))
    parts.append(f"<time>{stamp}</time>")
    buttons = [b for b in entry.get("buttons") or () if b.get("url")]
    if buttons:
        links = "".join(
            f'<a href="{html.escape(b["url"])}" target="_blank" rel="noopener">↗ {html.escape(b["text"])}</a>'
            for b in buttons
        )
        parts.append(f'<div class="buttons">{links}</div>')
    parts.append("</div>")
    return "".join(parts)


def phone_page(sandbox, channel, address):
    state = sandbox.state
    phone = state.phone(channel, address)
    settings = state.config[channel]
    contact = {
        "telegram": settings.get("bot_name", ""),
        "whatsapp": settings.get("verified_name", ""),
        "signal": settings.get("number", ""),
        "threema": settings.get("gateway_id", ""),
    }[channel]
    blocked = state.listed(channel, "blocked", address)
    header = (
        f'<a href="/_sandbox/" aria-label="Zurück">‹</a><div><h1>{html.escape(contact)}</h1>'
        f"<small>{TITLES[channel]} · Telefon von {html.escape(phone.name)} ({html.escape(address)})"
        f"{' · blockiert' if blocked else ''}</small></div>"
    )
    bubbles = (
        "".join(_bubble(entry) for entry in phone.messages)
        or '<div class="event">Noch keine Nachrichten</div>'
    )
    colour = COLOURS[channel]
    forms = [
        f'<form class="compose" method="post" action="{_phone_url(channel, address, "send")}">'
    ]
    compose = [
        f'<div><input name="text" placeholder="Nachricht als {html.escape(phone.name)}" aria-label="Nachricht" autocomplete="off">'
        "<button>Senden</button></div>"
    ]
    if channel in ("telegram", "whatsapp"):
        hint = (
            "t.me-Link oder Token" if channel == "telegram" else "wa.me-Link oder Token"
        )
        compose.append(
            f'<div><input name="link" form="start" placeholder="{hint}" aria-label="Start-Link">'
            f'<button form="start">Start</button>'
            f'<button form="block">{"Entsperren" if blocked else "Blockieren"}</button></div>'
        )
    compose.append(
        '<div><input name="photo" placeholder="Bild-URL (optional)" aria-label="Bild-URL"></div>'
    )
    forms.append("".join(compose) + "</form>")
    forms.append(
        f'<form id="start" method="post" action="{_phone_url(channel, address, "start")}"></form>'
    )
    forms.append(
        f'<form id="block" method="post" action="{_phone_url(channel, address, "unblock" if blocked else "block")}"></form>'
    )
    body = bubbles + '<div class="clear"></div><div id="end"></div>' + "".join(forms)
    return _page(
        f"{TITLES[channel]} {address}",
        colour,
        header,
        body,
        REFRESH % len(phone.messages),
    )
