"""What one round of housekeeping does on one site. Pure ZODB work, no thread, no lock.

Called by the clock (``clock.tick``) in its own transactions and by ``POST
@messenger-maintenance``. Each step is idempotent: two instances that sweep at once only
repeat work (and conflict, and retry), they never do anything twice.
"""

from plone import api

from collective.messenger.publishing.dispatch import drain
from collective.messenger.publishing.outbox import get_outbox
from collective.messenger.subscribers.access import get_store
from collective.messenger.subscribers.model import DEFAULT_KEEP_LEFT_DAYS
from collective.messenger.subscribers.model import PENDING

ERASE_AFTER_RECORD = "collective.messenger.erase_after_days"


def erase_after_days():
    """The site's setting; the default on a site whose profile has not been upgraded yet."""
    try:
        days = api.portal.get_registry_record(ERASE_AFTER_RECORD, default=None)
    except api.exc.InvalidParameterError:
        days = None
    return DEFAULT_KEEP_LEFT_DAYS if days is None else max(0, int(days))


def sweep_subscribers(site, now=None):
    """Expire signups not confirmed within 24 hours and erase who left more than the
    configured days ago. Returns ``{"expired", "erased", "pending"}``."""
    store = get_store(site, create=False)
    if store is None:
        return {"expired": 0, "erased": 0, "pending": 0}
    expired = store.expire_pending(now=now)
    erased = store.erase_leavers(erase_after_days(), now=now)
    pending = store.counts()["states"][PENDING]
    return {"expired": expired, "erased": erased, "pending": pending}


def sweep_outbox(site):
    """Hand waiting posts to Redis (after Redis was down), as ``@messenger-dispatch`` does."""
    if get_outbox(site, create=False) is None:
        return None
    return drain(site)
