"""``@@messenger-subscriber-data``: find one person by exact address, export or erase their data.

Only for "Manage messenger" (Manager, Site Administrator): the one page that shows an
address. Everything goes by POST with Plone's CSRF authenticator, so addresses stay out
of URLs and access logs, and no other site can make an admin's browser delete someone.
Logs name the subscriber id and the admin, never the address.
"""

import json
import logging

from plone import api
from plone.protect import CheckAuthenticator
from Products.Five.browser import BrowserView
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from Products.statusmessages.interfaces import IStatusMessage
from zope.i18n import translate

from collective.messenger import _
from collective.messenger.browser.admin_counts import STATE_TITLES
from collective.messenger.browser.admin_export import subscriber_data
from collective.messenger.browser.admin_lookup import find_subscribers
from collective.messenger.browser.admin_lookup import lookup_keys
from collective.messenger.browser.admin_lookup import LookupInvalid
from collective.messenger.settings.schema import CHANNEL_TITLES
from collective.messenger.signup import offer
from collective.messenger.subscribers import get_store
from collective.messenger.subscribers.clock import utcnow
from collective.messenger.subscribers.model import CHANNELS

logger = logging.getLogger("collective.messenger.admin")

MODE_TITLES = {
    "immediate": _("mode_immediate", default="Immediately"),
    "daily": _("mode_daily", default="Daily digest"),
    "weekly": _("mode_weekly", default="Weekly digest"),
}


def lookup_form_channels(request):
    """The channel choices of the lookup form: all channels, enabled or not (a channel
    switched off may still hold people's data)."""
    return [
        {"id": channel, "title": translate(CHANNEL_TITLES[channel], context=request)}
        for channel in CHANNELS
    ]


def when(moment):
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else ""


class SubscriberDataView(BrowserView):
    index = ViewPageTemplateFile("templates/admin_gdpr.pt")
    lookup_form = ViewPageTemplateFile("templates/admin_lookup_form.pt")

    error = None
    lookup_channel = "telegram"
    lookup_address = ""
    found = None  # subscribers found by the lookup
    confirming = None  # the subscriber whose deletion waits for confirmation

    def __call__(self):
        self.request.response.setHeader("Cache-Control", "private, no-store")
        if self.request.method != "POST":
            return (
                self.index()
            )  # addresses come by POST only, never in a URL or access log
        form = self.request.form
        if form.get("channel") in CHANNELS:
            self.lookup_channel = form["channel"]
        address = form.get("address", "")
        self.lookup_address = address if isinstance(address, str) else ""
        CheckAuthenticator(self.request)  # Forbidden (403) without a valid token
        if "form.buttons.lookup" in form:
            return self.lookup()
        if "form.buttons.cancel" in form:
            return self.redirect_to_overview()
        subscriber = self.subscriber_from_form()
        if subscriber is None:
            return self.index()
        if "form.buttons.export" in form:
            return self.export(subscriber)
        if "form.buttons.delete" in form:
            self.confirming = subscriber
            return self.index()
        if "form.buttons.confirm_delete" in form:
            return self.delete(subscriber)
        return self.fail(_("error_unknown_action", default="Unknown action."))

    def fail(self, message, status=400):
        self.error = translate(message, context=self.request)
        self.request.response.setStatus(status)
        return self.index()

    def subscriber_from_form(self):
        store = get_store(create=False)
        sid = self.request.form.get("subscriber")
        subscriber = store.get(sid) if store is not None else None
        if subscriber is None:
            self.fail(
                _(
                    "error_subscriber_gone",
                    default="This subscriber does not exist (any more). Look the address up again.",
                ),
                status=404,
            )
        return subscriber

    # -- actions ----------------------------------------------------------------------------

    def lookup(self):
        try:
            # The channel as sent, so that an unknown one is refused, not replaced.
            channel = self.request.form.get("channel")
            keys = lookup_keys(channel, self.lookup_address, offer.phone_region())
        except LookupInvalid as error:
            return self.fail(error.message)
        store = get_store(create=False)
        self.found = find_subscribers(store, channel, keys) if store is not None else []
        logger.info(
            "Lookup on %s by %s found %s",
            channel,
            api.user.get_current().getId(),
            ", ".join(s.id for s in self.found) or "nobody",
        )
        return self.index()

    def export(self, subscriber):
        document = subscriber_data(subscriber, offer.topic_titles(), self.request)
        document["exported_at"] = utcnow().isoformat()
        document["site"] = api.portal.get().absolute_url()
        logger.info(
            "Data of subscriber %s exported by %s",
            subscriber.id,
            api.user.get_current().getId(),
        )
        response = self.request.response
        response.setHeader("Content-Type", "application/json; charset=utf-8")
        filename = f"messenger-subscriber-{subscriber.id}.json"
        response.setHeader("Content-Disposition", f'attachment; filename="{filename}"')
        return json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")

    def delete(self, subscriber):
        sid, channel, state = subscriber.id, subscriber.channel, subscriber.state
        get_store().delete(subscriber)
        logger.info(
            "Subscriber %s (%s, %s) deleted by %s (erasure request)",
            sid,
            channel,
            state,
            api.user.get_current().getId(),
        )
        IStatusMessage(self.request).addStatusMessage(
            _(
                "info_subscriber_deleted",
                default="The data of subscriber ${id} is deleted. It leaves the database "
                "file with the next pack of the database.",
                mapping={"id": sid},
            ),
            "info",
        )
        return self.redirect_to_overview()

    def redirect_to_overview(self):
        self.request.response.redirect(
            f"{api.portal.get().absolute_url()}/@@messenger-subscribers", status=303
        )
        return ""

    # -- for the template -------------------------------------------------------------------

    def channels(self):
        return lookup_form_channels(self.request)

    def lookup_channels(self):
        return self.channels()

    def lookup_url(self):
        return self.url()

    def describe(self, subscriber):
        """What the result page shows of a record: every field but the secrets."""
        titles = offer.topic_titles()
        consent = subscriber.consent
        return {
            "id": subscriber.id,
            "channel": translate(
                CHANNEL_TITLES[subscriber.channel], context=self.request
            ),
            "address": subscriber.address,
            "state": translate(STATE_TITLES[subscriber.state], context=self.request),
            "pending": subscriber.is_pending,
            "topics": ", ".join(
                titles.get(topic, topic) for topic in subscriber.topics
            ),
            "mode": translate(
                MODE_TITLES.get(subscriber.mode, subscriber.mode), context=self.request
            ),
            "language": subscriber.language,
            "created": when(subscriber.created),
            "confirmed": when(subscriber.confirmed),
            "unsubscribed": when(subscriber.unsubscribed),
            "changed": when(subscriber.changed),
            "expires": when(subscriber.confirm_expires),
            "consent": f"{consent.privacy_version}, {consent.path}, {when(consent.given_at)}",
        }

    def overview_url(self):
        return f"{api.portal.get().absolute_url()}/@@messenger-subscribers"

    def url(self):
        return f"{api.portal.get().absolute_url()}/@@messenger-subscriber-data"
