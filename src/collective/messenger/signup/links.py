"""Deep links that open the messenger with the confirmation token, and their QR codes."""

from urllib.parse import quote

import qrcode
import qrcode.image.svg

from collective.messenger import _


def telegram_link(bot_username, token):
    """``https://t.me/<bot>?start=<token>``: Telegram sends ``/start <token>`` when the citizen taps Start."""
    return f"https://t.me/{bot_username.lstrip('@')}?start={token}"


def whatsapp_link(number, token):
    """``https://wa.me/<digits>?text=START%20<token>``: WhatsApp opens a chat with the text filled in."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return f"https://wa.me/{digits}?text={quote('START ' + token)}"


def qr_svg(link, title=None):
    """The link as an inline SVG QR code (scales with CSS, needs no image request).

    ``title`` names the image for screen readers.
    """
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    code.add_data(link)
    code.make(fit=True)
    image = code.make_image(image_factory=qrcode.image.svg.SvgPathImage)
    svg = image.to_string(encoding="unicode")
    label = title or "QR code"
    # Without width and height the SVG fills its box; the viewBox keeps it square.
    svg = svg.replace(
        "<svg ",
        f'<svg role="img" aria-label="{_escape(label)}" class="messenger-qr" ',
        1,
    )
    return _strip_size(svg)


def qr_title(channel_title):
    return _(
        "qr_title",
        default="QR code: opens ${channel} on your phone",
        mapping={"channel": channel_title},
    )


def _escape(text):
    return str(text).replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _strip_size(svg):
    head, sep, rest = svg.partition(">")
    for attribute in ("width", "height"):
        start = head.find(f' {attribute}="')
        if start != -1:
            end = head.index('"', start + len(attribute) + 3)
            head = head[:start] + head[end + 1 :]
    return head + sep + rest
