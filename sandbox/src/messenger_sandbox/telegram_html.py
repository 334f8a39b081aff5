"""Telegram's ``parse_mode=HTML``: the tags it knows, the errors it gives, the entities it makes.

Telegram rejects the whole message when the markup is wrong ("Bad Request: can't parse
entities: ..."), so a worker that renders a post badly must see that here, not on launch day.
Offsets in error messages are UTF-8 byte offsets, entity offsets and lengths UTF-16 code
units, as in the Bot API.
"""

import html
import re

# tag -> entity type; see https://core.telegram.org/bots/api#html-style
TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
# How the phone page shows them (everything else is escaped text).
SAFE_HTML = {
    "bold": "b",
    "italic": "i",
    "underline": "u",
    "strikethrough": "s",
    "spoiler": "span class=spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "custom_emoji": "span",
}

_ATTRIBUTE = re.compile(
    r"""\s*([a-zA-Z_-]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?"""
)
_ENTITY = re.compile(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z]+);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class ParseError(ValueError):
    """The description Telegram gives after "Bad Request: can't parse entities: "."""


def utf16_len(text):
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text, index):
    return len(text[:index].encode("utf-8"))


def parse(text):
    """(plain text, entities, safe html) of ``text`` in Telegram's HTML mode; raises ParseError."""
    plain = []  # pieces of visible text
    plain_len = 0  # in UTF-16 units
    safe = []
    entities = []
    stack = []  # (tag name, entity type, utf16 start, attributes)
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char == "<":
            end = text.find(">", index)
            if end < 0:
                raise ParseError(
                    f"Can't find end of the tag starting at byte offset {_byte_offset(text, index)}"
                )
            inner = text[index + 1 : end]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise ParseError(
                        f"Unexpected end tag at byte offset {_byte_offset(text, index)}"
                    )
                open_name, kind, start, attributes = stack.pop()
                if name and name != open_name:
                    raise ParseError(
                        f"Unmatched end tag at byte offset {_byte_offset(text, index)}, "
                        f'expected "</{open_name}>", found "</{name}>"'
                    )
                if plain_len > start:
                    entity = {
                        "offset": start,
                        "length": plain_len - start,
                        "type": kind,
                    }
                    if kind == "text_link":
                        entity["url"] = attributes.get("href", "")
                    if kind == "pre" and attributes.get("language"):
                        entity["language"] = attributes["language"]
                    entities.append(entity)
                safe.append(
                    "</a>"
                    if kind == "text_link"
                    else f"</{SAFE_HTML[kind].split()[0]}>"
                )
            else:
                name, _, rest = inner.partition(" ")
                name = name.strip().lower()
                if name.endswith("/"):
                    name = name[:-1]
                if name not in TAGS:
                    raise ParseError(
                        f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, index)}'
                    )
                attributes = {
                    m.group(1).lower(): html.unescape(
                        m.group(2) or m.group(3) or m.group(4) or ""
                    )
                    for m in _ATTRIBUTE.finditer(rest)
                }
                if name == "span" and attributes.get("class") != "tg-spoiler":
                    raise ParseError('Tag "span" must have class "tg-spoiler"')
                if name == "tg-emoji" and "emoji-id" not in attributes:
                    raise ParseError('Tag "tg-emoji" must have attribute "emoji-id"')
                if name == "blockquote" and "expandable" in attributes:
                    kind = "expandable_blockquote"
                else:
                    kind = TAGS[name]
                if kind == "code" and stack and stack[-1][1] == "pre":
                    stack[-1][3].setdefault(
                        "language",
                        attributes.get("class", "").removeprefix("language-"),
                    )
                stack.append((name, kind, plain_len, attributes))
                if kind == "text_link":
                    href = attributes.get("href", "")
                    safe_href = (
                        href
                        if href.startswith(("http://", "https://", "tg://"))
                        else "#"
                    )
                    safe.append(
                        f'<a href="{html.escape(safe_href)}" rel="noopener" target="_blank">'
                    )
                else:
                    safe.append("<" + SAFE_HTML.get(kind, "blockquote") + ">")
            index = end + 1
            continue
        if char == "&":
            match = _ENTITY.match(text, index)
            if match:
                name = match.group(1)
                if name.startswith("#"):
                    code = int(name[2:], 16) if name[1:2] in "xX" else int(name[1:])
                    value = chr(code) if 0 < code < 0x110000 else ""
                else:
                    # Telegram knows these four by name; other named entities stay as text.
                    value = _NAMED.get(name.lower(), match.group(0))
                plain.append(value)
                plain_len += utf16_len(value)
                safe.append(html.escape(value))
                index = match.end()
                continue
        # A run of ordinary characters.
        next_special = min(
            (p for p in (text.find("<", index), text.find("&", index + 1)) if p >= 0),
            default=length,
        )
        chunk = text[index:next_special]
        plain.append(chunk)
        plain_len += utf16_len(chunk)
        safe.append(html.escape(chunk, quote=False))
        index = next_special
    if stack:
        raise ParseError(
            f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"'
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(plain), entities, "".join(safe).replace("\n", "<br>")


def parse_plain(text):
    """Safe html for the phone page of a message sent without parse_mode (or Markdown)."""
    return html.escape(text, quote=False).replace("\n", "<br>")
