"""Webhook replays: a delivery seen in the last 24 hours is acknowledged and ignored.

The platforms deliver again what they consider undelivered (Telegram for up to a day, Meta
for days), and whoever recorded a signed request can send it again. Each message or update
names itself (``events.*.delivery``: Telegram's update_id, WhatsApp's message id, Signal's
timestamp and sender); the first request to claim a name acts on it, later ones within 24 h
are answered 200 and change nothing.

A claim is ``SET NX`` with a 24 h expiry on ``messenger:webhook-seen:<platform>:<pseudonym>``.
The pseudonym is the site's keyed hash of the name (``signup.pseudonyms``), so a key reveals
no chat id or phone number, even to someone who tries all numbers. A request whose
transaction does not commit (an error, or a ConflictError that Zope retries) gives its
claims back, so its retry, or the platform's, is acted on.

Redis down: the delivery is acted on without the check, and a warning is logged. Losing a
citizen's "/start" or "STOP" is worse than answering a repeated one twice; the commands
are idempotent for the subscriber store anyway (a used token, an unsubscribed number), and
their replies need Redis to go out at all.
"""

import logging
import uuid

import redis
import transaction

from collective.messenger.redis_client import get_redis
from collective.messenger.signup.pseudonyms import pseudonym
from messenger_worker.connection import display_url

log = logging.getLogger("collective.messenger")

SEEN_SECONDS = 24 * 3600
KEY_PREFIX = "messenger:webhook-seen"
REPLAYED = "replayed"  # the outcome of a replayed event in the webhook's answer

# Deletes a claim only while it is still ours (a later request may have claimed it since).
_RELEASE_SCRIPT = """
local released = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
"""


def seen_key(platform, delivery):
    return f"{KEY_PREFIX}:{platform}:{pseudonym('webhook-seen:' + platform, delivery)}"


def fresh(platform, events, connection=None):
    """``events`` with a flag each: (event, True) to act on, (event, False) for a replay.

    Claims the deliveries of the fresh ones for 24 h, given back if the transaction fails.
    Events without a delivery name (receipts, which count once by themselves) are fresh.
    """
    named = [event for event in events if getattr(event, "delivery", None)]
    if not named:
        return [(event, True) for event in events]
    token = uuid.uuid4().hex
    keys = {id(event): seen_key(platform, event.delivery) for event in named}
    try:
        connection = connection or get_redis()
        pipeline = connection.pipeline(transaction=False)
        for event in named:
            pipeline.set(keys[id(event)], token, nx=True, ex=SEEN_SECONDS)
        claimed = dict(zip(keys, pipeline.execute()))
    except redis.RedisError as error:
        log.warning(
            "Could not check %s webhook deliveries for replays: Redis at %s is unreachable "
            "(%s). Acting on them unchecked.",
            platform,
            display_url(),
            error,
        )
        return [(event, True) for event in events]
    mine = [keys[id(event)] for event in named if claimed[id(event)]]
    if mine:
        _give_back_unless_committed(connection, mine, token)
    replays = len(named) - len(mine)
    if replays:
        log.info(
            "Ignored %d %s webhook deliveries seen in the last 24 hours (replays).",
            replays,
            platform,
        )
    # SET NX answers True when it set the key, None when the key was there.
    return [(event, bool(claimed.get(id(event), True))) for event in events]


def _give_back_unless_committed(connection, keys, token):
    def give_back(*ignored):
        try:
            connection.eval(_RELEASE_SCRIPT, len(keys), *keys, token)
        except redis.RedisError as error:
            log.warning(
                "Could not give back %d webhook delivery claims (%s): a repetition within "
                "24 hours will be ignored.",
                len(keys),
                error,
            )

    def after_commit(succeeded):
        if not succeeded:
            give_back()

    current = transaction.get()
    current.addAfterCommitHook(after_commit)
    current.addAfterAbortHook(give_back)
