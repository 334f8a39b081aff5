"""Telegram Bot API updates (https://core.telegram.org/bots/api#update) as events.

- ``message`` with text: what the citizen wrote, from the chat (``/start <token>``, ``/stop``);
- ``my_chat_member`` whose new status is ``kicked`` (a private chat blocked the bot) or
  ``left`` (the bot was removed from a group): the chat is unreachable.

Everything else (edited messages, photos without caption, channel posts, callbacks, ...) is
nothing for us. Payloads come from Telegram after verification, yet the parsing never
trusts their shape: an unexpected one yields no event rather than an error.
"""

from collective.messenger.webhooks.events import Blocked
from collective.messenger.webhooks.events import Message

CHANNEL = "telegram"
GONE_STATUSES = ("kicked", "left")
MAX_TEXT = 4096  # Telegram's own limit for a message


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _chat_id(chat):
    chat_id = chat.get("id")
    if isinstance(chat_id, bool) or not isinstance(chat_id, int):
        return None
    return str(chat_id)


def _name(person):
    parts = [person.get("first_name"), person.get("last_name")]
    name = " ".join(part for part in parts if isinstance(part, str) and part)
    return name or None


def _delivery(update, part):
    """The update_id with the date of its message: Telegram repeats an update unchanged,
    while a restarted sandbox (or a bot after a week of silence) counts update ids anew."""
    update_id = update.get("update_id")
    if isinstance(update_id, bool) or not isinstance(update_id, int):
        return None
    return f"{update_id}:{part.get('date')}"


def events(update):
    """The events of one Update (a list with at most one)."""
    message = _mapping(update.get("message"))
    if message:
        chat_id = _chat_id(_mapping(message.get("chat")))
        text = message.get("text")
        if text is None:
            text = message.get(
                "caption"
            )  # a photo with "/stop" as caption still counts
        if chat_id is None or not isinstance(text, str) or not text:
            return []
        sender = _mapping(message.get("from")) or _mapping(message.get("chat"))
        return [
            Message(
                CHANNEL,
                chat_id,
                text[:MAX_TEXT],
                _name(sender),
                _delivery(update, message),
            )
        ]
    member = _mapping(update.get("my_chat_member"))
    if member:
        chat_id = _chat_id(_mapping(member.get("chat")))
        status = _mapping(member.get("new_chat_member")).get("status")
        if chat_id is not None and status in GONE_STATUSES:
            return [Blocked(CHANNEL, chat_id, _delivery(update, member))]
    return []
