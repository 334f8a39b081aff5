"""``POST @messenger-maintenance``: the housekeeping sweep on demand (cron, scripts, tests).

Since the housekeeping clock runs inside Zope (``collective.messenger.housekeeping``), cron
is optional: this endpoint runs the same subscriber sweep at once. It deletes pending
signups older than 24 hours and erases who left more than the configured days ago (only
counts remain). Answers ``{"expired": n, "erased": e, "pending": m}``: how many signups
expired, how many leavers were erased, how many signups still wait.
"""

import logging

from plone import api
from plone.protect.interfaces import IDisableCSRFProtection
from plone.restapi.services import Service
from zope.interface import alsoProvides

from collective.messenger.housekeeping.sweep import sweep_subscribers

logger = logging.getLogger("collective.messenger.maintenance")


class MaintenancePost(Service):
    def reply(self):
        # Token or basic auth from a script, not a browser form: nothing to forge.
        alsoProvides(self.request, IDisableCSRFProtection)
        result = sweep_subscribers(api.portal.get())
        logger.info(
            "Expired %(expired)d pending signups, erased %(erased)d who left; "
            "%(pending)d still pending",
            result,
        )
        return result
