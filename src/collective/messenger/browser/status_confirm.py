"""``<item>/@@messenger-confirm?action=...``: the page between a button and a send.

"Send update", "Send again" and "Send now" show who would get the post (recipients per
messenger, counted as the send itself will count them) and the message as each messenger
renders it; "Send update" first asks what is new, which leads the message. "Cancel
sending" says which scheduled post will not go out. Only the form on this page sends, by
POST to ``@@messenger-send`` with Plone's authenticator; the page itself never writes, so
it works without JavaScript and a curious click sends nothing.
"""

import redis
from AccessControl import Unauthorized
from plone import api
from Products.Five.browser import BrowserView
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from zope.i18n import translate

from collective.messenger import _
from collective.messenger.browser.preview import item_previews
from collective.messenger.browser.status_item import item_entries
from collective.messenger.browser.status_labels import channel_title
from collective.messenger.browser.status_labels import format_time
from collective.messenger.browser.status_send import CONFIRMED_ACTIONS
from collective.messenger.browser.status_send import VIEW_DELIVERY_STATUS
from collective.messenger.publishing import sending
from collective.messenger.publishing.snapshot import recipients_for
from collective.messenger.publishing.snapshot import topics_of
from collective.messenger.redis_client import get_redis
from collective.messenger.subscribers import get_store
from messenger_worker.ledger import GONE_KEY

HEADINGS = {
    "update": _("confirm_heading_update", default="Send an update"),
    "again": _("confirm_heading_again", default="Send again"),
    "first": _("confirm_heading_first", default="Send now"),
    "now": _("confirm_heading_now", default="Send the scheduled post now"),
    "cancel": _("confirm_heading_cancel", default="Cancel sending"),
}


def reported_gone():
    """Subscriber ids the workers reported unreachable and Plone has not absorbed yet.

    Sending first marks them unreachable (``dispatch.drain``); counting must leave them out
    too, without writing: this page is a GET.
    """
    try:
        fields = get_redis().hkeys(GONE_KEY)
    except redis.RedisError:
        return set()
    return {field.decode("utf-8", "replace").partition(":")[2] for field in fields}


def would_receive(item):
    """{channel: count} of the subscribers a send would go to now: the snapshot publishing takes."""
    topics = topics_of(item)
    if not topics or get_store(create=False) is None:
        return {}
    gone = reported_gone()
    counts = {}
    for subscriber_id, channel, _address, _language in recipients_for(topics):
        if subscriber_id not in gone:
            counts[channel] = counts.get(channel, 0) + 1
    return counts


class ConfirmView(BrowserView):
    index = ViewPageTemplateFile("templates/status_confirm.pt")
    channel_macros = ViewPageTemplateFile("templates/preview_channels.pt")

    lead_limit = sending.LEAD_LIMIT
    error = ""

    def __call__(self):
        # No arguments: Zope would fill them from the query string.
        return self.render()

    def with_error(self, error):
        """The page again, with what the editor typed and why the send refused it (400)."""
        return self.render(error)

    def render(self, error=None):
        if not api.user.has_permission(VIEW_DELIVERY_STATUS, obj=self.context):
            raise Unauthorized("View delivery status is needed to send.")
        response = self.request.response
        response.setHeader("Cache-Control", "private, no-store")
        self.action = self.request.form.get("action")
        if self.action not in CONFIRMED_ACTIONS:
            response.setStatus(400)
            response.setHeader("Content-Type", "text/plain; charset=utf-8")
            return translate(
                _("error_unknown_action", default="Unknown action."),
                context=self.request,
            )
        self.lead_text = str(self.request.form.get("lead") or "")
        self.lead = ""
        if error is not None:
            self.error = translate(error, context=self.request)
            response.setStatus(400)
        elif self.action == "update" and self.lead_text.strip():
            try:
                self.lead = sending.clean_lead(self.lead_text)
            except sending.SendRefused as refused:
                self.error = translate(refused.message, context=self.request)
        self.scheduled = sending.scheduled_entries(self.context)
        self.recipient_counts = would_receive(self.context)
        self.refusal = self.refused()
        return self.index()

    def refused(self):
        """Why the action cannot be done now ("" when it can); the page then offers no button."""
        try:
            if self.action in ("now", "cancel"):
                sending.check_public(self.context)
                sending.check_scheduled(self.context)
            else:
                sending.check_sendable(self.context)
        except sending.SendRefused as refused:
            return translate(refused.message, context=self.request)
        if self.action != "cancel" and not self.recipient_counts:
            return translate(
                _(
                    "error_send_nobody",
                    default="Nobody follows the topics of this item yet: there is nobody to send it to.",
                ),
                context=self.request,
            )
        return ""

    # -- for the template -------------------------------------------------------------------

    def heading(self):
        key = self.action
        if key == "again" and not self.has_posts():
            key = "first"  # publishing sent nothing: this is the item's first post
        return translate(HEADINGS[key], context=self.request)

    def has_posts(self):
        return bool(item_entries(self.context))

    def item_url(self):
        return self.context.absolute_url()

    def send_url(self):
        return f"{self.item_url()}/@@messenger-send"

    def ready(self):
        """Whether the send button is offered: nothing refused, and an update has its line."""
        if self.refusal:
            return False
        return self.action != "update" or bool(self.lead)

    def scheduled_entry(self):
        return self.scheduled[-1] if self.scheduled else None

    def scheduled_text(self):
        entry = self.scheduled_entry()
        return format_time(entry.due) if entry is not None else ""

    def scheduled_iso(self):
        entry = self.scheduled_entry()
        return entry.due.isoformat(timespec="seconds") if entry is not None else ""

    def recipients(self):
        counts = self.recipient_counts
        rows = [
            {
                "id": channel,
                "title": channel_title(channel, self.request),
                "count": count,
            }
            for channel, count in sorted(counts.items())
        ]
        return {"rows": rows, "total": sum(counts.values())}

    def preview_kind(self):
        if self.action == "update":
            return "update"
        entry = self.scheduled_entry()
        if self.action == "now" and entry is not None:
            return entry.kind
        return "again"

    def preview(self):
        entry = self.scheduled_entry()
        lead = (
            self.lead
            if self.action == "update"
            else getattr(entry, "lead", "")
            if entry
            else ""
        )
        return item_previews(self.context, self.preview_kind(), self.request, lead=lead)
