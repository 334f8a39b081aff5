"""``POST @messenger-dispatch``: hand waiting posts to the delivery queue, for cron.

Posts wait in the outbox when Redis was unreachable at publishing time; the next
publication and the "Send waiting posts now" button drain them too, but a site that
publishes rarely should run this every few minutes. It also takes back cancelled
scheduled posts and marks the recipients the workers reported unreachable. Answers
``{"dispatched", "cancelled", "skipped", "waiting"}``; 503 when Redis is still unreachable.
"""

import logging

from plone.protect.interfaces import IDisableCSRFProtection
from plone.restapi.services import Service
from zope.interface import alsoProvides

from collective.messenger.publishing.dispatch import drain
from collective.messenger.publishing.dispatch import queue_reachable

log = logging.getLogger("collective.messenger")


class DispatchPost(Service):
    def reply(self):
        # Called by scripts with basic auth or a token, not by a browser form.
        alsoProvides(self.request, IDisableCSRFProtection)
        result = drain()
        if not queue_reachable():
            self.request.response.setStatus(503)
            result["message"] = (
                "The delivery queue (Redis) is not reachable; posts keep waiting."
            )
        if result["dispatched"] or result["cancelled"] or result["skipped"]:
            log.info("Drained the messenger outbox: %s", result)
        return result
