"""What a webhook payload can mean for us, independent of the platform's JSON shape.

``delivery`` is what the platform names this message or update by (Telegram's update_id,
WhatsApp's message id, Signal's timestamp and sender): the same delivery arriving again is a
replay (``webhooks.replay``). None where the payload names none.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    """A citizen wrote ``text`` to the bot from ``address`` (chat id, wa_id, number)."""

    channel: str
    address: str
    text: str
    name: str | None = None
    delivery: str | None = None


@dataclass(frozen=True)
class Blocked:
    """The citizen blocked the bot (or removed it from a group): no more posts."""

    channel: str
    address: str
    delivery: str | None = None


@dataclass(frozen=True)
class Receipt:
    """A WhatsApp delivery receipt for a message we sent: delivered, read, failed, sent."""

    message_id: str
    status: str
    recipient: str = ""
    error_code: int | None = None
