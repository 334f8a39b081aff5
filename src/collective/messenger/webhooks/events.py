"""What a webhook payload can mean for us, independent of the platform's JSON shape."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    """A citizen wrote ``text`` to the bot from ``address`` (chat id, wa_id, number)."""

    channel: str
    address: str
    text: str
    name: str | None = None


@dataclass(frozen=True)
class Blocked:
    """The citizen blocked the bot (or removed it from a group): no more posts."""

    channel: str
    address: str


@dataclass(frozen=True)
class Receipt:
    """A WhatsApp delivery receipt for a message we sent: delivered, read, failed, sent."""

    message_id: str
    status: str
    recipient: str = ""
    error_code: int | None = None
