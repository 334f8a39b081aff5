"""The message of a post as each enabled channel would send it, rendered by the worker's own code.

Each channel class renders without sending (``render`` needs no network, WhatsApp's
``template_message`` neither), so the preview is exactly what the workers produce from the
same settings document. Only the rendered content leaves this module, never a setting
(the document holds tokens).
"""

from html import escape
from html.parser import HTMLParser

from messenger_worker import render
from messenger_worker.channels import channel_class
from messenger_worker.channels.telegram import CAPTION_LIMIT
from messenger_worker.settings import CHANNELS

# Telegram's parse_mode HTML knows more tags, but these are all we show as formatting;
# anything else in the text (there should be nothing: the worker escapes everything) stays
# visible as text.
TELEGRAM_TAGS = {
    "b": "strong",
    "strong": "strong",
    "i": "em",
    "em": "em",
    "u": "u",
    "s": "s",
    "code": "code",
    "pre": "pre",
}


class _TelegramHTML(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.open = []

    def handle_starttag(self, tag, attrs):
        if tag in TELEGRAM_TAGS:
            self.open.append(TELEGRAM_TAGS[tag])
            self.parts.append(f"<{TELEGRAM_TAGS[tag]}>")
        else:
            self.parts.append(escape(self.get_starttag_text() or ""))

    def handle_endtag(self, tag):
        name = TELEGRAM_TAGS.get(tag)
        if name and name in self.open:
            self.open.remove(name)
            self.parts.append(f"</{name}>")
        else:
            self.parts.append(escape(f"</{tag}>"))

    def handle_data(self, data):
        self.parts.append(escape(data).replace("\n", "<br />\n"))

    def result(self):
        self.close()
        return "".join(self.parts) + "".join(
            f"</{name}>" for name in reversed(self.open)
        )


def telegram_html_as_safe_html(text):
    """Telegram's message HTML as HTML safe to show on our page: only plain formatting tags,
    no attributes, everything else escaped, line breaks kept."""
    parser = _TelegramHTML()
    parser.feed(text)
    return parser.result()


def channel_preview(name, settings, post):
    """What ``name`` would send for ``post``, as a JSON-ready dict."""
    channel = channel_class(name)(settings, None)
    preview = {"channel": name}
    if name == "telegram":
        text = channel.render(post)
        preview.update(
            markup=text,
            html=telegram_html_as_safe_html(text),
            button={"text": render.read_more_label(post.language), "url": post.url},
            image_url=post.image_url,
        )
        if post.image_url:
            caption = channel.render(post, CAPTION_LIMIT)
            preview.update(
                caption_markup=caption, caption_html=telegram_html_as_safe_html(caption)
            )
    elif name == "whatsapp":
        template = channel.template_message(post, to="")["template"]
        parameters = {"header_image": None, "body": [], "button": None}
        for component in template["components"]:
            values = [parameter.get("text") for parameter in component["parameters"]]
            if component["type"] == "header":
                parameters["header_image"] = component["parameters"][0]["image"]["link"]
            elif component["type"] == "body":
                parameters["body"] = values
            elif component["type"] == "button":
                parameters["button"] = values[0]
        preview.update(
            template=template["name"],
            language=template["language"]["code"],
            parameters=parameters,
        )
    else:  # signal (styled text: **bold**), threema (plain text)
        preview.update(
            text=channel.render(post), styled=name == "signal", image_url=post.image_url
        )
    return preview


def enabled_channels(document):
    return [
        name
        for name in CHANNELS
        if (document.get("channels", {}).get(name) or {}).get("enabled")
    ]


def previews(post, document):
    """``channel_preview`` for every channel switched on in ``document``."""
    return [
        channel_preview(name, document["channels"][name], post)
        for name in enabled_channels(document)
    ]
