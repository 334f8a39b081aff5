"""``POST @messenger-maintenance``: periodic housekeeping, called by cron with basic auth.

Deletes pending signups older than 24 hours (``store.expire_pending``, which also keeps a
month of day counters ready). Answers ``{"expired": n, "pending": m}``: how many were
deleted and how many signups still wait. Running it from a signup request instead (every
Nth signup) would make citizens' requests do the deleting and conflict with concurrent
signups on the same index buckets; a cron job does it once, off the hot path.
"""

import logging

from plone.protect.interfaces import IDisableCSRFProtection
from plone.restapi.services import Service
from zope.interface import alsoProvides

from collective.messenger.subscribers import get_store

logger = logging.getLogger("collective.messenger.maintenance")


class MaintenancePost(Service):
    def reply(self):
        # Token or basic auth from a script, not a browser form: nothing to forge.
        alsoProvides(self.request, IDisableCSRFProtection)
        store = get_store()
        expired = store.expire_pending()
        pending = store.counts()["states"]["pending"]
        logger.info("Expired %d pending signups; %d still pending", expired, pending)
        return {"expired": expired, "pending": pending}
