"""Tell the workers who left the fan-out, so a post scheduled earlier does not reach them.

A post's recipients are taken when it is published; a post scheduled for next week is then
split into batches by a worker at its time (``messenger_worker.fanout.split_post``). Whoever
leaves in between (unsubscribes, is deleted, becomes unreachable) is written after commit to
the sorted set ``messenger:left`` (member: subscriber id, score: when), and the worker drops
them. Coming back removes the entry.
"""

import logging
import time

import redis
import transaction

from messenger_worker.keys import LEFT_KEY

log = logging.getLogger("collective.messenger")

# Longer than any post waits for its time: older entries can no longer matter.
KEEP_SECONDS = 400 * 24 * 3600


class _Changes:
    """The per-transaction collection; one after-commit hook however many subscribers change."""


_KEY = _Changes()


def note(subscriber_id, left, txn=None):
    """Remember for this transaction that ``subscriber_id`` left (True) or came back (False)."""
    txn = txn or transaction.get()
    try:
        changes = txn.data(_KEY)
    except KeyError:
        changes = {}
        txn.set_data(_KEY, changes)
        txn.addAfterCommitHook(_write_after_commit, args=(changes,))
    changes[subscriber_id] = left


def _write_after_commit(succeeded, changes):
    if not succeeded or not changes:
        return
    from collective.messenger.redis_client import get_redis

    now = time.time()
    left = {sid: now for sid, gone in changes.items() if gone}
    back = [sid for sid, gone in changes.items() if not gone]
    try:
        with get_redis().pipeline() as pipe:
            if left:
                pipe.zadd(LEFT_KEY, left)
            if back:
                pipe.zrem(LEFT_KEY, *back)
            pipe.zremrangebyscore(LEFT_KEY, 0, now - KEEP_SECONDS)
            pipe.execute()
    except redis.RedisError as error:
        # Only posts already scheduled are affected; the outbox drain does not repeat this.
        log.warning(
            "Could not tell the workers that %s subscribers left or came back: %s",
            len(changes),
            error,
        )
