"""``POST <site>/@@messenger-send-replies``: the dashboard's "Send waiting replies now".

Hands the replies that wait in the reply outbox (Redis was down when they were made) to
the queue now, instead of with the next reply or publication. POST only, with Plone's
authenticator; the outcome is a status message on the dashboard.
"""

import logging

from plone import api
from plone.protect import CheckAuthenticator
from Products.Five.browser import BrowserView
from Products.statusmessages.interfaces import IStatusMessage

from collective.messenger import _
from collective.messenger.signup.reply_outbox import drain

logger = logging.getLogger("collective.messenger.dashboard")


class SendRepliesView(BrowserView):
    def __call__(self):
        dashboard = f"{api.portal.get().absolute_url()}/@@messenger-dashboard"
        if self.request.method == "POST":
            CheckAuthenticator(self.request)  # Forbidden (403) without a valid token
            result = drain()
            logger.info(
                "%s sent the waiting messenger replies: %s",
                api.user.get_current().getId(),
                result,
            )
            IStatusMessage(self.request).add(*self.message(result))
        self.request.response.redirect(dashboard, status=303)
        return ""

    def message(self, result):
        if result["replies_waiting"]:
            return _(
                "warning_replies_still_waiting",
                default="The delivery queue is still not reachable. Replies waiting: ${waiting}.",
                mapping={"waiting": result["replies_waiting"]},
            ), "warning"
        return _(
            "info_replies_sent",
            default="Replies handed to the queue: ${sent}. Dropped as out of date: ${dropped}.",
            mapping={
                "sent": result["replies_sent"],
                "dropped": result["replies_dropped"],
            },
        ), "info"
