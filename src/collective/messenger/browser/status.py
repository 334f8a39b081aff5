"""The "Messenger" box on items with the push behavior, for those who may view delivery status.

Before the first post it says what publishing will do (topics, subscribers per channel, or
that nothing will be sent); afterwards it lists each post with its per-channel figures and a
progress bar. The numbers are plain HTML; a small script (``status_script.js``) polls
``@messenger-status`` every 2 s while something is sending and updates them in place.
"""

import os

from plone import api
from plone.app.layout.viewlets.common import ViewletBase
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from zope.i18n import translate

from collective.messenger import _
from collective.messenger.browser.status_item import item_status
from collective.messenger.browser.status_labels import channel_title
from collective.messenger.browser.status_labels import format_time
from collective.messenger.browser.status_labels import site_timezone_name
from collective.messenger.browser.status_labels import STATE_BADGES
from collective.messenger.publishing.sending import scheduled_entries

MODIFY = "Modify portal content"

COUNTER_TITLES = (
    ("queued", _("Queued")),
    ("sent", _("Sent")),
    ("retrying", _("Retrying")),
    ("gone", _("Gone")),
    ("failed", _("Failed")),
)
RECEIPT_TITLES = (
    ("delivered", _("Delivered (receipt)")),
    ("read", _("Read (receipt)")),
    ("failed_after_send", _("Failed after sending (receipt)")),
)
MOMENT_TITLES = (("first_sent", _("First sent")), ("last_sent", _("Last sent")))
POLL_MILLISECONDS = 2000

with open(
    os.path.join(os.path.dirname(__file__), "status_script.js"), encoding="utf-8"
) as script:
    SCRIPT = script.read()


class MessengerStatusViewlet(ViewletBase):
    index = ViewPageTemplateFile("templates/status_viewlet.pt")
    script = SCRIPT
    poll_milliseconds = POLL_MILLISECONDS

    status = None

    @property
    def available(self):
        # On the item's own view only, not on its edit form or other views.
        state = api.content.get_view("plone_context_state", self.context, self.request)
        return state.is_view_template()

    def update(self):
        super().update()
        if self.available:
            self.status = item_status(self.context, self.request)

    def render(self):
        return self.index() if self.status is not None else ""

    # -- for the template -------------------------------------------------------------------

    def item_url(self):
        return self.context.absolute_url()

    def status_url(self):
        return f"{self.item_url()}/@messenger-status"

    def send_url(self):
        return f"{self.item_url()}/@@messenger-send"

    def confirm_url(self, action):
        return f"{self.item_url()}/@@messenger-confirm?action={action}"

    def scheduled(self):
        """A post waits for the item's effective date: "Send now" and "Cancel sending" instead."""
        return bool(scheduled_entries(self.context))

    def timezone_name(self):
        return site_timezone_name()

    def preview_url(self):
        return f"{self.item_url()}/@@messenger-preview"

    def can_send(self):
        return api.user.has_permission(MODIFY, obj=self.context)

    def posts(self):
        """Newest first: the latest post is what the editor came for."""
        return [self.decorate(post) for post in reversed(self.status["posts"])]

    def decorate(self, post):
        return {
            **post,
            "badge": STATE_BADGES.get(post["state_key"], "bg-secondary"),
            "created_text": format_time(post["created"]),
            "due_text": format_time(post["due"]),
            "percent": int(post["progress"] * 100),
            "channel_rows": [
                {
                    "id": channel,
                    "title": channel_title(channel, self.request),
                    "delivered": "–",  # receipts: only WhatsApp sends them
                    "read": "–",
                    "failed_after_send": "–",
                    **figures,
                    "first_sent_text": format_time(figures["first_sent"]),
                    "last_sent_text": format_time(figures["last_sent"]),
                }
                for channel, figures in post["channels"].items()
            ],
        }

    def counters(self, post):
        """The rows of a post's table: the counters, and receipts where a platform sends them."""
        titles = list(COUNTER_TITLES)
        titles += [
            (name, title)
            for name, title in RECEIPT_TITLES
            if any(name in figures for figures in post["channels"].values())
        ]
        return [
            {"id": name, "title": translate(title, context=self.request)}
            for name, title in titles
        ]

    def moments(self):
        return [
            {"id": name, "title": translate(title, context=self.request)}
            for name, title in MOMENT_TITLES
        ]

    def upcoming(self):
        upcoming = self.status["upcoming"]
        if upcoming is None:  # posts exist: the box shows them instead
            return None
        return {
            **upcoming,
            "effective_text": format_time(upcoming["effective"])
            if upcoming["effective"]
            else "",
            "topic_titles": ", ".join(topic["title"] for topic in upcoming["topics"]),
            "channel_rows": [
                {"id": channel, **row}
                for channel, row in upcoming["recipients"].items()
            ],
        }

    def has_posts(self):
        return bool(self.status["posts"])

    def public(self):
        return self.status["public"]

    def waiting(self):
        return self.status["waiting"]

    def active(self):
        return self.status["active"]
