"""``@@messenger-subscribers``: how many people follow which topic on which messenger.

For everyone with "View delivery status" (editors, reviewers, admins): numbers only, read
from the store's counters, never a record and so never an address. Admins with "Manage
messenger" also get the form that finds one person's data (``admin_gdpr``).
``@@messenger-subscribers/counts.csv`` is the same counts as a spreadsheet.
"""

from plone import api
from Products.Five.browser import BrowserView
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from zExceptions import NotFound
from zope.i18n import translate
from zope.interface import implementer
from zope.publisher.interfaces import IPublishTraverse

from collective.messenger import _
from collective.messenger.browser import admin_counts
from collective.messenger.browser.admin_csv import counts_csv
from collective.messenger.browser.admin_gdpr import lookup_form_channels
from collective.messenger.browser.chart import bar_chart
from collective.messenger.settings.schema import CHANNEL_TITLES
from collective.messenger.signup import offer
from collective.messenger.subscribers import get_store
from collective.messenger.subscribers.clock import utcnow
from collective.messenger.subscribers.model import CHANNELS
from collective.messenger.subscribers.model import STATES

MANAGE_MESSENGER = "collective.messenger: Manage messenger"
CSV_NAME = "counts.csv"


def no_store_caching(response):
    # Counts and, for admins, personal data: not for shared caches or the back button.
    response.setHeader("Cache-Control", "private, no-store")


@implementer(IPublishTraverse)
class SubscribersView(BrowserView):
    index = ViewPageTemplateFile("templates/admin_subscribers.pt")
    subpath = None

    def publishTraverse(self, request, name):
        if self.subpath is None and name == CSV_NAME:
            self.subpath = name
            return self
        raise NotFound(name)

    def __call__(self):
        no_store_caching(self.request.response)
        self.today = utcnow().date()
        store = get_store(
            create=False
        )  # a GET must not write, even on a site without one
        self.counts = (
            store.counts() if store is not None else admin_counts.empty_counts()
        )
        since = admin_counts.chart_since(self.today)
        self.daily = (
            store.daily(since=since, until=self.today) if store is not None else {}
        )
        if self.subpath == CSV_NAME:
            return self.csv()
        return self.index()

    # -- for the template -------------------------------------------------------------------

    def t(self, message):
        return translate(message, context=self.request)

    def channels(self):
        return [
            {"id": channel, "title": self.t(CHANNEL_TITLES[channel])}
            for channel in CHANNELS
        ]

    def states(self):
        return [
            {"id": state, "title": self.t(admin_counts.STATE_TITLES[state])}
            for state in STATES
        ]

    def totals(self):
        states = self.counts["states"]
        return [
            {
                "id": state,
                "title": self.t(admin_counts.STATE_TITLES[state]),
                "count": states[state],
            }
            for state in STATES
        ]

    def total(self):
        return self.counts["total"]

    def topic_rows(self):
        return admin_counts.topic_rows(self.counts, offer.offered_topics())

    def channel_rows(self):
        titles = {channel["id"]: channel["title"] for channel in self.channels()}
        rows = admin_counts.channel_rows(self.counts)
        for row in rows:
            row["title"] = titles[row["id"]]
        return rows

    def active_per_channel(self):
        """Each subscriber once: the channels' active counts (topic rows count people per topic)."""
        return [self.counts["channels"][channel]["active"] for channel in CHANNELS]

    def pending(self):
        return [
            {
                "title": channel["title"],
                "count": self.counts["channels"][channel["id"]]["pending"],
            }
            for channel in self.channels()
            if self.counts["channels"][channel["id"]]["pending"]
        ]

    def series(self):
        return admin_counts.daily_series(self.daily, self.today)

    def chart(self):
        series = self.series()
        signups = sum(item["signups"] for item in series)
        leavers = sum(item["leavers"] for item in series)
        names = [self.t(_("Signups")), self.t(_("Leavers"))]
        title = self.t(_("Signups and leavers per day, last 30 days"))
        desc = self.t(
            _(
                "chart_description",
                default="From ${first} to ${last}: confirmed signups ${signups}, leavers "
                "(unsubscribed or no longer reachable) ${leavers}. The table below the chart "
                "lists the numbers per day.",
                mapping={
                    "first": series[0]["day"].isoformat(),
                    "last": series[-1]["day"].isoformat(),
                    "signups": signups,
                    "leavers": leavers,
                },
            )
        )
        return bar_chart(series, ("signups", "leavers"), names, title, desc)

    def csv_url(self):
        return f"{api.portal.get().absolute_url()}/@@messenger-subscribers/{CSV_NAME}"

    def controlpanel_url(self):
        return f"{api.portal.get().absolute_url()}/@@messenger-controlpanel"

    def can_manage(self):
        return api.user.has_permission(MANAGE_MESSENGER, obj=self.context)

    lookup_channel = "telegram"
    lookup_address = ""
    lookup_form = ViewPageTemplateFile("templates/admin_lookup_form.pt")

    def lookup_channels(self):
        return lookup_form_channels(self.request)

    def lookup_url(self):
        return f"{api.portal.get().absolute_url()}/@@messenger-subscriber-data"

    # -- CSV --------------------------------------------------------------------------------

    def csv(self):
        header = [
            self.t(_("Topic")),
            self.t(_("Topic id")),
            self.t(_("Messenger")),
            self.t(_("State")),
            self.t(_("Subscribers")),
        ]
        text = counts_csv(
            self.counts,
            self.topic_rows(),
            header,
            channel_title=lambda channel: self.t(CHANNEL_TITLES[channel]),
            state_title=lambda state: self.t(admin_counts.STATE_TITLES[state]),
            all_topics=self.t(_("All subscribers")),
        )
        response = self.request.response
        response.setHeader("Content-Type", "text/csv; charset=utf-8")
        response.setHeader(
            "Content-Disposition",
            f'attachment; filename="messenger-subscribers-{self.today.isoformat()}.csv"',
        )
        return text.encode("utf-8")
