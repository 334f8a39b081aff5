"""WhatsApp delivery receipts: which post a message id belongs to, counted once per receipt.

The Cloud API accepts a message with an id (``wamid.…``) and later reports what became of it
in ``statuses`` webhooks that reach Plone: ``sent`` (left Meta), ``delivered`` (on the phone),
``read``, or ``failed`` (also after it was accepted, e.g. 131026 undeliverable). The worker
remembers each accepted post message in the hash ``messenger:wamid:<wamid>`` (post and
subscriber, kept as long as the post's stats); Plone's webhook calls ``record_status``, which
counts the receipt into the post's stats:

    whatsapp:delivered          delivered (a "read" counts as delivered too: Meta leaves out
                                "delivered" when a message is read at once)
    whatsapp:read               read
    whatsapp:failed_after_send  accepted by the API, then reported failed

Each counter moves at most once per message, however often Meta repeats a webhook or in
which order the receipts arrive. ``sent`` receipts count nothing: the worker counted the
message as sent when the API accepted it. Receipts of messages the worker did not remember
(replies, other systems using the number, older than the post's stats) are ignored.
"""

import json
import time

from messenger_worker.ledger import GONE_KEY
from messenger_worker.ledger import POST_TTL_SECONDS
from messenger_worker.ledger import stats_key

CHANNEL = "whatsapp"
# Receipts we count, and the counter each moves.
COUNTED = ("delivered", "read", "failed")
# Failure codes that mean the number can never be reached (see channels.whatsapp.GONE).
GONE_CODES = {
    131026: "WhatsApp could not deliver to this number (not on WhatsApp, or an outdated app).",
    131050: "This user stopped marketing messages from the business on WhatsApp.",
}


def message_key(message_id):
    return f"messenger:wamid:{message_id}"


def remember(pipeline, message_id, post_id, subscriber_id):
    """Queue on ``pipeline`` (no round trip of its own): ``message_id`` was post ``post_id``."""
    key = message_key(message_id)
    pipeline.hset(key, mapping={"post": post_id, "subscriber": subscriber_id})
    pipeline.expire(key, POST_TTL_SECONDS)


def tracks(channel):
    """Whether the worker remembers message ids of ``channel`` for receipts."""
    return channel == CHANNEL


# KEYS: message key, stats key; ARGV: status. Returns 1 when a counter moved, 0 when the
# receipt was counted before, -1 when the message or its post's stats are unknown (expired).
# The message hash doubles as the record of receipts already counted.
RECORD_SCRIPT = """
if redis.call('HEXISTS', KEYS[1], 'post') == 0 or redis.call('EXISTS', KEYS[2]) == 0 then
  return -1
end
local function once(seen, counter)
  if redis.call('HSETNX', KEYS[1], seen, '1') == 1 then
    redis.call('HINCRBY', KEYS[2], 'whatsapp:' .. counter, 1)
    return 1
  end
  return 0
end
local status = ARGV[1]
if status == 'delivered' then
  return once('seen:delivered', 'delivered')
elseif status == 'read' then
  return math.max(once('seen:delivered', 'delivered'), once('seen:read', 'read'))
elseif status == 'failed' then
  return once('seen:failed', 'failed_after_send')
end
return 0
"""


def record_status(connection, message_id, status, error_code=None, now=None):
    """Count one receipt; returns the post id it belonged to, or None if it counted nothing.

    A ``failed`` receipt whose code means the number is unreachable for good also lists the
    subscriber in ``messenger:gone``, as the worker does when the API refuses at once.
    """
    if status not in COUNTED or not message_id:
        return None
    key = message_key(message_id)
    post_id, subscriber_id = connection.hmget(key, "post", "subscriber")
    if post_id is None:
        return None
    post_id = post_id.decode()
    counted = connection.eval(RECORD_SCRIPT, 2, key, stats_key(post_id), status)
    if counted != 1:
        return None
    if status == "failed" and error_code in GONE_CODES and subscriber_id:
        connection.hset(
            GONE_KEY,
            f"{CHANNEL}:{subscriber_id.decode()}",
            json.dumps({
                "reason": GONE_CODES[error_code],
                "post": post_id,
                "at": round(now if now is not None else time.time(), 3),
            }),
        )
    return post_id
