"""The Telegram Bot API as the sandbox plays it: ``/telegram/bot<token>/<method>``.

Bodies and error descriptions follow https://core.telegram.org/bots/api: every answer is
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ..., "description": ...}``,
with ``parameters`` for flood control (``retry_after``) and migrated groups
(``migrate_to_chat_id``). Parameters come from the query string, a form, multipart or JSON.
"""

import json
import re
import time

from messenger_sandbox import inbound
from messenger_sandbox import telegram_html
from messenger_sandbox.httpserver import BadRequest
from messenger_sandbox.httpserver import Response
from messenger_sandbox.ratelimit import whole_seconds

CHANNEL = "telegram"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
_TOKEN = re.compile(r"^[0-9]+:[A-Za-z0-9_-]+$")
_URL = re.compile(r"^(https?|tg)://[^\s]+$", re.IGNORECASE)


def error(code, description, parameters=None):
    body = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Response.json(body, status=code)


def ok(result, **extra):
    return Response.json(dict({"ok": True, "result": result}, **extra))


def server_error():
    return error(500, "Internal Server Error")


class Refusal(Exception):
    """An answer other than success; carries the Response and the stats bucket it counts in."""

    def __init__(self, response, bucket):
        self.response = response
        self.bucket = bucket


def bad_request(description, **parameters):
    return Refusal(
        error(400, f"Bad Request: {description}", parameters or None),
        "validation_errors",
    )


def bot_user(settings):
    return {
        "id": int(settings["token"].split(":", 1)[0]),
        "is_bot": True,
        "first_name": settings["bot_name"],
        "username": settings["bot_username"],
    }


def handle(sandbox, request, path):
    settings = sandbox.state.config[CHANNEL]
    match = re.match(r"^/bot([^/]*)/([A-Za-z]+)$", path)
    if not match:
        return error(404, "Not Found")
    token, method = match.groups()
    if not _TOKEN.match(token):
        return error(404, "Not Found")
    if token != settings["token"] or settings["bad_token"]:
        sandbox.state.stats[CHANNEL].refused += 1
        return error(401, "Unauthorized")
    action = METHODS.get(method.lower())
    if action is None:
        return error(404, "Not Found")
    try:
        params = request.params()
    except BadRequest as problem:
        return error(400, f"Bad Request: {problem}")
    try:
        return action(sandbox, settings, params)
    except Refusal as refusal:
        stats = sandbox.state.stats[CHANNEL]
        setattr(stats, refusal.bucket, getattr(stats, refusal.bucket) + 1)
        return refusal.response


# -- methods -----------------------------------------------------------------------------------


def get_me(sandbox, settings, params):
    return ok(
        dict(
            bot_user(settings),
            can_join_groups=True,
            can_read_all_group_messages=False,
            supports_inline_queries=False,
            can_connect_to_business=False,
            has_main_web_app=False,
        )
    )


def set_webhook(sandbox, settings, params):
    url = str(params.get("url", ""))
    if url and not url.lower().startswith(("https://", "http://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    changes = {"webhook_url": url}
    if "secret_token" in params:
        secret = str(params["secret_token"])
        if secret and not re.match(r"^[A-Za-z0-9_-]{1,256}$", secret):
            raise bad_request(
                "bad webhook: Webhook secret token contains unallowed characters"
            )
        changes["webhook_secret"] = secret
    sandbox.state.configure({CHANNEL: changes})
    return ok(True, description="Webhook was set" if url else "Webhook was deleted")


def delete_webhook(sandbox, settings, params):
    sandbox.state.configure({CHANNEL: {"webhook_url": ""}})
    return ok(True, description="Webhook was deleted")


def get_webhook_info(sandbox, settings, params):
    return ok({
        "url": settings["webhook_url"],
        "has_custom_certificate": False,
        "pending_update_count": 0,
        "max_connections": 40,
        "ip_address": "127.0.0.1",
    })


def send_message(sandbox, settings, params):
    chat = _chat(params)
    raw = params.get("text")
    if raw is None or str(raw) == "":
        raise bad_request("message text is empty")
    text, entities, safe_html = _formatted(str(raw), params.get("parse_mode"))
    if not text.strip():
        raise bad_request("message text is empty")
    if telegram_html.utf16_len(text) > TEXT_LIMIT:
        raise bad_request("message is too long")
    buttons, markup = _reply_markup(params.get("reply_markup"))
    address = _deliverable(sandbox, settings, chat)
    message = _message(sandbox, settings, address)
    message["text"] = text
    if entities:
        message["entities"] = entities
    if markup:
        message["reply_markup"] = markup
    sandbox.state.record(
        CHANNEL,
        address,
        "text",
        text,
        message_id=message["message_id"],
        buttons=buttons,
        html=safe_html,
        raw=str(raw),
        parse_mode=params.get("parse_mode"),
    )
    return ok(message)


def send_photo(sandbox, settings, params):
    chat = _chat(params)
    photo = params.get("photo")
    if photo in (None, "", b""):
        raise bad_request("there is no photo in the request")
    if isinstance(photo, bytes):
        image = "(uploaded file)"
    else:
        image = str(photo)
        if "://" in image and not image.lower().startswith(("http://", "https://")):
            raise bad_request(
                "wrong remote file identifier specified: Wrong character in the string"
            )
        if image in settings["photo_errors"]:
            raise bad_request("failed to get HTTP URL content")
    raw = str(params.get("caption") or "")
    caption, entities, safe_html = (
        _formatted(raw, params.get("parse_mode")) if raw else ("", [], "")
    )
    if telegram_html.utf16_len(caption) > CAPTION_LIMIT:
        raise bad_request("message caption is too long")
    buttons, markup = _reply_markup(params.get("reply_markup"))
    address = _deliverable(sandbox, settings, chat)
    message = _message(sandbox, settings, address)
    message["photo"] = inbound.telegram_photo_sizes(
        f"{address.lstrip('-')}x{message['message_id']:06d}"
    )
    if caption:
        message["caption"] = caption
        if entities:
            message["caption_entities"] = entities
    if markup:
        message["reply_markup"] = markup
    sandbox.state.record(
        CHANNEL,
        address,
        "photo",
        caption,
        message_id=message["message_id"],
        image=image,
        buttons=buttons,
        html=safe_html,
        raw=raw,
        parse_mode=params.get("parse_mode"),
    )
    return ok(message)


METHODS = {
    "getme": get_me,
    "setwebhook": set_webhook,
    "deletewebhook": delete_webhook,
    "getwebhookinfo": get_webhook_info,
    "sendmessage": send_message,
    "sendphoto": send_photo,
}


# -- helpers -----------------------------------------------------------------------------------


def _chat(params):
    chat = params.get("chat_id")
    if chat is None or str(chat).strip() == "":
        raise bad_request("chat_id is empty")
    return str(chat).strip()


def _formatted(raw, parse_mode):
    """(visible text, entities, html for the phone page) or a 400 for broken markup."""
    mode = str(parse_mode or "").lower()
    if mode == "html":
        try:
            return telegram_html.parse(raw)
        except telegram_html.ParseError as problem:
            raise bad_request(f"can't parse entities: {problem}") from None
    if mode and mode not in ("markdown", "markdownv2"):
        raise bad_request("unsupported parse_mode")
    return raw, [], telegram_html.parse_plain(raw)


def _reply_markup(value):
    """(buttons for the phone, markup as Telegram echoes it) from an object or JSON text."""
    if value in (None, ""):
        return [], None
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            raise bad_request("can't parse reply keyboard markup JSON object") from None
    if not isinstance(value, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in value:
        return (
            [],
            None,
        )  # reply keyboards and keyboard removal are accepted but not shown
    rows = value["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    buttons = []
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not str(button.get("text", "")):
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            if "url" in button:
                url = str(button["url"])
                if not _URL.match(url):
                    raise bad_request(
                        f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
                    )
                buttons.append({"text": str(button["text"]), "url": url})
            elif "callback_data" in button:
                buttons.append({
                    "text": str(button["text"]),
                    "callback_data": str(button["callback_data"]),
                })
            else:
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
    return buttons, {"inline_keyboard": rows}


def _deliverable(sandbox, settings, chat):
    """The chat's address when the platform would deliver to it now, else the refusal."""
    state = sandbox.state
    migrated = settings["migrated"].get(chat)
    if migrated is not None:
        raise Refusal(
            error(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": int(migrated)},
            ),
            "refused",
        )
    if not re.match(r"^-?[0-9]+$", chat) or state.listed(CHANNEL, "unknown", chat):
        raise Refusal(error(400, "Bad Request: chat not found"), "refused")
    wait = state.take_token(CHANNEL)
    if wait:
        seconds = whole_seconds(wait)
        raise Refusal(
            error(
                429,
                f"Too Many Requests: retry after {seconds}",
                {"retry_after": seconds},
            ),
            "rate_limited",
        )
    if state.listed(CHANNEL, "blocked", chat):
        raise Refusal(error(403, "Forbidden: bot was blocked by the user"), "refused")
    if state.listed(CHANNEL, "deactivated", chat):
        raise Refusal(error(403, "Forbidden: user is deactivated"), "refused")
    return chat


def _message(sandbox, settings, address):
    phone = sandbox.state.phone(CHANNEL, address)
    return {
        "message_id": sandbox.state.next_id(CHANNEL, address),
        "from": bot_user(settings),
        "chat": chat_object(address, phone.name),
        "date": int(time.time()),
    }


def chat_object(address, name):
    chat_id = int(address)
    if chat_id < 0:
        return {
            "id": chat_id,
            "title": name,
            "type": "supergroup" if str(chat_id).startswith("-100") else "group",
        }
    return {"id": chat_id, "first_name": name, "type": "private"}
