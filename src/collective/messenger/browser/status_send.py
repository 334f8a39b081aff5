"""``POST <item>/@@messenger-send``: what the confirmation page and the messenger box send.

``action=update`` ("Send update", with ``lead``: what is new), ``action=again`` ("Send
again", or "Send now" when publishing sent nothing), ``action=now`` (a scheduled post goes
out now), ``action=cancel`` (a scheduled post is taken back) and ``action=drain`` ("Send
waiting posts now"). The first four need ``confirmed=1``, which only the confirmation page
(``@@messenger-confirm``) sends: without it the editor is taken there, so no click on the
box sends anything by itself. Needs "Modify portal content" (the ZCML permission) and "View
delivery status"; POST only, with Plone's authenticator. The outcome is a status message on
the item, where the editor came from.
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
CONFIRMED_ACTIONS = ("update", "again", "now", "cancel")
ACTIONS = (*CONFIRMED_ACTIONS, "drain")


class SendView(BrowserView):
    def __call__(self):
        if not api.user.has_permission(VIEW_DELIVERY_STATUS, obj=self.context):
            raise Unauthorized("View delivery status is needed to send.")
        if self.request.method != "POST":
            return self.refuse(
                405,
                _(
                    "error_send_post_only",
                    default="Use the buttons in the Messenger box of the item.",
                ),
            )
        CheckAuthenticator(self.request)  # Forbidden (403) without a valid token
        action = self.request.form.get("action")
        if action not in ACTIONS:
            return self.refuse(
                400, _("error_unknown_action", default="Unknown action.")
            )
        if action in CONFIRMED_ACTIONS and self.request.form.get("confirmed") != "1":
            # An old page, a bookmark or a script: first the confirmation, which sends nothing.
            self.request.response.redirect(
                f"{self.context.absolute_url()}/@@messenger-confirm?action={action}",
                status=303,
            )
            return ""
        messages = IStatusMessage(self.request)
        user = api.user.get_current().getId()
        if action == "drain":
            result = dispatch.drain()
            logger.info("%s drained the messenger outbox: %s", user, result)
            messages.add(
                self.drain_message(result),
                type="info" if not result["waiting"] else "warning",
            )
        elif action == "update":
            confirm = api.content.get_view(
                "messenger-confirm", self.context, self.request
            )
            if self.request.form.get("preview"):
                return (
                    confirm()
                )  # "Show in the preview": the page again, with the line; no send
            try:
                lead = sending.clean_lead(self.request.form.get("lead"))
            except sending.SendRefused as refused:
                # Back to the confirmation with what was typed and why it is refused.
                return confirm.with_error(refused.message)
            self.send(
                action, messages, user, lambda item: sending.send_update(item, lead)
            )
        elif action == "again":
            self.send(action, messages, user, sending.send_again)
        elif action == "now":
            self.send(action, messages, user, sending.send_now)
        else:
            try:
                entries = sending.cancel_sending(self.context)
            except sending.SendRefused as refused:
                messages.add(
                    translate(refused.message, context=self.request), type="error"
                )
            else:
                logger.info(
                    "%s cancelled the scheduled post(s) %s of %s",
                    user,
                    ", ".join(entry.post_id for entry in entries),
                    self.context.absolute_url(),
                )
                messages.add(
                    translate(
                        _(
                            "info_sending_cancelled",
                            default="Sending was cancelled: the scheduled messenger post will not go out.",
                        ),
                        context=self.request,
                    ),
                    type="info",
                )
        self.request.response.redirect(self.context.absolute_url(), status=303)
        return ""

    def send(self, action, messages, user, send):
        try:
            entry = send(self.context)
        except sending.SendRefused as refused:
            messages.add(translate(refused.message, context=self.request), type="error")
            return
        logger.info(
            "%s: %s of %s made post %s",
            user,
            action,
            self.context.absolute_url(),
            entry.post_id,
        )
        if entry.state == SKIPPED:
            messages.add(
                translate(
                    _(
                        "warning_post_skipped",
                        default="Nothing was sent: ${reason}",
                        mapping={
                            "reason": translate(
                                reason_title(entry.reason), context=self.request
                            )
                        },
                    ),
                    context=self.request,
                ),
                type="warning",
            )
        # Otherwise the hand-over after commit tells the editor what happened.

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
