"""``POST <item>/@@messenger-send``: the buttons of the messenger box.

``action=update`` ("Send update"), ``action=again`` ("Send again", "Send now") and
``action=drain`` ("Send waiting posts now"). Needs "Modify portal content" (the ZCML
permission) and "View delivery status"; POST only, with Plone's authenticator. The outcome
is a status message on the item, where the editor came from.
"""

import logging

from AccessControl import Unauthorized
from plone import api
from plone.protect import CheckAuthenticator
from Products.Five.browser import BrowserView
from Products.statusmessages.interfaces import IStatusMessage
from zope.i18n import translate

from collective.messenger import _
from collective.messenger.browser.status_labels import reason_title
from collective.messenger.publishing import dispatch
from collective.messenger.publishing import sending
from collective.messenger.publishing.outbox import SKIPPED

logger = logging.getLogger("collective.messenger.status")

VIEW_DELIVERY_STATUS = "collective.messenger: View delivery status"
ACTIONS = ("update", "again", "drain")


class SendView(BrowserView):
    def __call__(self):
        if not api.user.has_permission(VIEW_DELIVERY_STATUS, obj=self.context):
            raise Unauthorized("View delivery status is needed to send.")
        if self.request.method != "POST":
            return self.refuse(
                405, _("error_send_post_only", default="Use the buttons in the Messenger box of the item.")
            )
        CheckAuthenticator(self.request)  # Forbidden (403) without a valid token
        action = self.request.form.get("action")
        if action not in ACTIONS:
            return self.refuse(400, _("error_unknown_action", default="Unknown action."))
        messages = IStatusMessage(self.request)
        user = api.user.get_current().getId()
        if action == "drain":
            result = dispatch.drain()
            logger.info("%s drained the messenger outbox: %s", user, result)
            messages.add(self.drain_message(result), type="info" if not result["waiting"] else "warning")
        else:
            send = sending.send_update if action == "update" else sending.send_again
            try:
                entry = send(self.context)
            except sending.SendRefused as refused:
                messages.add(translate(refused.message, context=self.request), type="error")
            else:
                logger.info("%s: %s of %s made post %s", user, action, self.context.absolute_url(), entry.post_id)
                if entry.state == SKIPPED:
                    messages.add(
                        translate(
                            _(
                                "warning_post_skipped",
                                default="Nothing was sent: ${reason}",
                                mapping={"reason": translate(reason_title(entry.reason), context=self.request)},
                            ),
                            context=self.request,
                        ),
                        type="warning",
                    )
                # Otherwise the hand-over after commit tells the editor what happened.
        self.request.response.redirect(self.context.absolute_url(), status=303)
        return ""

    def drain_message(self, result):
        if result["waiting"]:
            message = _(
                "warning_drain_still_waiting",
                default="The delivery queue is still not reachable. Posts waiting: ${waiting}; "
                "they go out as soon as it is reachable.",
                mapping={"waiting": result["waiting"]},
            )
        else:
            message = _(
                "info_drained",
                default="Waiting posts handed to the delivery queue: ${count}.",
                mapping={"count": result["dispatched"]},
            )
        return translate(message, context=self.request)

    def refuse(self, status, message):
        response = self.request.response
        response.setStatus(status)
        response.setHeader("Content-Type", "text/plain; charset=utf-8")
        if status == 405:
            response.setHeader("Allow", "POST")
        return translate(message, context=self.request)
