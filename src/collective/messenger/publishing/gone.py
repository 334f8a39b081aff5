"""Recipients the workers found unreachable for good (blocked bot, unknown number).

The workers list them in the Redis hash ``messenger:gone`` (see worker/README.md); here
they become "unreachable" in the subscriber store, so no later fan-out includes them.
The entries are removed from Redis only after the store's change committed.
"""

import logging

import redis
import transaction

from collective.messenger.redis_client import get_redis
from collective.messenger.subscribers import get_store
from messenger_worker.ledger import GONE_KEY

log = logging.getLogger("collective.messenger")


def absorb_gone(connection=None):
    """Mark every reported recipient unreachable; returns how many records changed."""
    try:
        connection = connection or get_redis()
        reported = connection.hgetall(GONE_KEY)
    except redis.RedisError:
        return 0
    if not reported:
        return 0
    store = get_store()
    changed = 0
    for field in reported:
        _channel, _sep, subscriber_id = field.decode("utf-8", "replace").partition(":")
        if store.mark_unreachable_by_id(subscriber_id) is not None:
            changed += 1
    transaction.get().addAfterCommitHook(_forget_after_commit, args=(list(reported),))
    if changed:
        log.info(
            "Marked %s subscribers unreachable as the messenger platforms reported.",
            changed,
        )
    return changed


def _forget_after_commit(succeeded, fields):
    if not succeeded:
        return
    try:
        get_redis().hdel(GONE_KEY, *fields)
    except redis.RedisError as error:
        # They stay listed and are absorbed again next time; marking is idempotent.
        log.warning(
            "Could not remove %s absorbed entries from %s: %s",
            len(fields),
            GONE_KEY,
            error,
        )
