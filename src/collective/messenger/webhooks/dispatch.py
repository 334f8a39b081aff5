"""Acting on verified webhook events.

Messages and blocks change subscribers in the ZODB through ``signup.commands``, inside the
request's transaction; the replies those commands queue go to Redis only after commit.
Delivery receipts are counted in Redis at once: counting is idempotent per message and
receipt (``messenger_worker.statuses``), so a request Zope retries after a ConflictError
counts nothing twice. An unreachable Redis loses the count, not the request: the platform
would only send the same receipt again and again.
"""

import logging

import redis

from collective.messenger.redis_client import get_redis
from collective.messenger.signup import commands
from collective.messenger.webhooks.events import Blocked
from collective.messenger.webhooks.events import Message
from collective.messenger.webhooks.events import Receipt
from messenger_worker.connection import display_url
from messenger_worker.statuses import record_status

log = logging.getLogger("collective.messenger")

UNREACHABLE = "unreachable"
IGNORED = "ignored"
COUNTED = "counted"


def apply(events):
    """Act on each event; returns one outcome word per event (for logs, tests, the answer)."""
    outcomes = []
    for event in events:
        if isinstance(event, Message):
            outcomes.append(commands.handle_message(event.channel, event.address, event.text, event.name))
        elif isinstance(event, Blocked):
            changed = commands.handle_blocked(event.channel, event.address)
            outcomes.append(UNREACHABLE if changed else IGNORED)
        elif isinstance(event, Receipt):
            outcomes.append(count_receipt(event))
    return outcomes


def count_receipt(receipt):
    try:
        post_id = record_status(get_redis(), receipt.message_id, receipt.status, receipt.error_code)
    except redis.RedisError as error:
        log.warning("Could not count a WhatsApp %s receipt: Redis at %s is unreachable (%s).",
                    receipt.status, display_url(), error)
        return IGNORED
    return COUNTED if post_id else IGNORED
