"""Acting on verified webhook events.

Messages and blocks change subscribers in the ZODB through ``signup.commands``, inside the
request's transaction; the replies those commands queue go to Redis only after commit.
Delivery receipts are counted in Redis at once: counting is idempotent per message and
receipt (``messenger_worker.statuses``), so a request Zope retries after a ConflictError
counts nothing twice. An unreachable Redis loses the count, not the request: the platform
would only send the same receipt again and again.

An event the subscriber store refuses (``SubscriberError``: an address it does not take, a
change the state does not allow) is undone to a savepoint, logged and answered "refused":
the request still answers 200, since the platform would repeat anything else, and the
other events of the same call stand.
"""

import logging

import redis
import transaction

from collective.messenger.redis_client import get_redis
from collective.messenger.signup import commands
from collective.messenger.subscribers import SubscriberError
from collective.messenger.subscribers.store import MAX_ADDRESS_LENGTH
from collective.messenger.webhooks.events import Blocked
from collective.messenger.webhooks.events import Message
from collective.messenger.webhooks.events import Receipt
from messenger_worker.connection import display_url
from messenger_worker.statuses import record_status

log = logging.getLogger("collective.messenger")

UNREACHABLE = "unreachable"
IGNORED = "ignored"
COUNTED = "counted"
REFUSED = "refused"


def apply(events):
    """Act on each event; returns one outcome word per event (for logs, tests, the answer)."""
    return [apply_one(event) for event in events]


def apply_one(event):
    if isinstance(event, Receipt):
        return count_receipt(event)
    if not storable_address(event.address):
        # Nothing to look up and no one to answer: a reply would only fail in the worker.
        return refused(
            event,
            f"the address is empty, has spaces or is longer than "
            f"{MAX_ADDRESS_LENGTH} characters",
        )
    savepoint = transaction.savepoint(optimistic=True)
    try:
        if isinstance(event, Message):
            return commands.handle_message(
                event.channel, event.address, event.text, event.name
            )
        if isinstance(event, Blocked):
            return (
                UNREACHABLE
                if commands.handle_blocked(event.channel, event.address)
                else IGNORED
            )
    except SubscriberError as error:
        try:
            savepoint.rollback()
        except (
            TypeError
        ):  # a data manager without savepoints joined: undo the whole request
            transaction.doom()
        # SubscriberError's messages name no address.
        return refused(event, str(error))
    return IGNORED


def storable_address(address):
    """Whether the subscriber store takes ``address`` (its rules, checked before any lookup)."""
    text = str(address).strip()
    return 0 < len(text) <= MAX_ADDRESS_LENGTH and not any(
        character.isspace() for character in text
    )


def refused(event, reason):
    log.warning(
        "Ignored a %s %s: the subscriber store does not take it (%s).",
        event.channel,
        type(event).__name__.lower(),
        reason,
    )
    return REFUSED


def count_receipt(receipt):
    try:
        post_id = record_status(
            get_redis(), receipt.message_id, receipt.status, receipt.error_code
        )
    except redis.RedisError as error:
        log.warning(
            "Could not count a WhatsApp %s receipt: Redis at %s is unreachable (%s).",
            receipt.status,
            display_url(),
            error,
        )
        return IGNORED
    return COUNTED if post_id else IGNORED
