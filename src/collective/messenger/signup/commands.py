"""What citizens write to the bot: ``/start <token>`` and ``START <token>`` confirm a signup,
``/stop``, ``STOP``, ``Stop``, ``Abmelden`` leave, ``link``, ``Link``, ``/link`` send the
subscriber's manage link again (the welcome message held the only copy). Called by the
webhooks after they verified the platform's signature; every answer is queued after commit
(``replies``).
"""

import re

from collective.messenger.signup import replies
from collective.messenger.signup.flow import request_language
from collective.messenger.subscribers import get_store
from collective.messenger.subscribers.tokens import is_token

# "/start TOKEN" (Telegram deep link, also "/start@musterstadt_bot TOKEN"), "START TOKEN" (WhatsApp).
START = re.compile(r"^\s*/?start(?:@\w+)?(?:\s+(\S+))?\s*$", re.IGNORECASE)
STOP = re.compile(
    r"^\s*/?(?:stop|abmelden|unsubscribe)(?:@\w+)?[\s.!]*$", re.IGNORECASE
)
LINK = re.compile(r"^\s*/?link(?:@\w+)?[\s.!?]*$", re.IGNORECASE)

ACTIVATED = "activated"
ALREADY_ACTIVE = "already-active"
UNSUBSCRIBED = "unsubscribed"
NOT_SUBSCRIBED = "not-subscribed"
UNKNOWN_TOKEN = "unknown-token"
LINK_SENT = "link-sent"
IGNORED = "ignored"


def handle_message(channel, address, text, name=None):
    """Act on one message from ``address``; returns what happened (see the constants)."""
    address = str(address)
    text = text if isinstance(text, str) else ""
    start = START.match(text)
    if start:
        return _start(channel, address, start.group(1))
    if STOP.match(text):
        return _stop(channel, address)
    if LINK.match(text):
        return _link(channel, address)
    return IGNORED


def _start(channel, address, token):
    store = get_store()
    pending = store.by_confirm_token(token) if token and is_token(token) else None
    if pending is not None and pending.channel == channel and pending.address is None:
        subscriber = store.activate(pending, address=address)
        replies.queue_welcome(subscriber)
        return ACTIVATED
    existing = store.by_address(channel, address)
    if existing is not None and existing.is_active:
        replies.queue_answer(
            channel,
            address,
            existing.language,
            "already",
            replies.already_subscribed_text(existing),
            token or "",
        )
        return ALREADY_ACTIVE
    language = existing.language if existing is not None else request_language()
    replies.queue_answer(
        channel,
        address,
        language,
        "unknown",
        replies.unknown_link_text(language),
        token or "",
    )
    return UNKNOWN_TOKEN


def _stop(channel, address):
    store = get_store()
    existing = store.by_address(channel, address)
    if existing is not None and existing.is_active:
        store.unsubscribe(existing)
        replies.queue_goodbye(existing)
        return UNSUBSCRIBED
    return _not_subscribed(channel, address, existing)


def _not_subscribed(channel, address, existing):
    """Tell a chat that is not (or no longer) subscribed so, in its language if known."""
    language = existing.language if existing is not None else request_language()
    state = existing.state if existing is not None else "none"
    replies.queue_answer(
        channel,
        address,
        language,
        "notsubscribed",
        replies.not_subscribed_text(language),
        state,
    )
    return NOT_SUBSCRIBED


def _link(channel, address):
    """A new message with the manage link, to the chat it was asked from only."""
    existing = get_store().by_address(channel, address)
    if existing is not None and existing.is_active:
        replies.queue_manage_link(existing)
        return LINK_SENT
    return _not_subscribed(channel, address, existing)


def handle_blocked(channel, address):
    """The citizen blocked the bot (Telegram ``my_chat_member`` "kicked"): no more posts."""
    return get_store().mark_unreachable(channel, str(address)) is not None
