"""``@@messenger-manage/<manage token>``: a subscriber changes topics, leaves or deletes their data.

The link comes in the welcome message; the token is the only key, so the page never shows
the full address, tells browsers not to keep it (no-store), not to pass the URL on
(no-referrer) and search engines not to index it. A client that opened too many unknown
tokens gets 429 for a while (``ratelimit.check_manage_lookups``); the owner opening their
own link is never counted.
"""

from plone.protect.interfaces import IDisableCSRFProtection
from Products.Five.browser import BrowserView
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from zope.interface import alsoProvides
from zope.interface import implementer
from zope.publisher.interfaces import IPublishTraverse

from collective.messenger import _
from collective.messenger.browser import manage_csrf
from collective.messenger.settings.schema import CHANNEL_TITLES
from collective.messenger.signup import offer
from collective.messenger.signup import phones
from collective.messenger.signup import ratelimit
from collective.messenger.signup import replies
from collective.messenger.subscribers import get_store

ACTIONS = ("save", "unsubscribe", "delete", "delete-confirmed", "cancel")
MODES = ("immediate",)  # daily and weekly digests come with a later release


@implementer(IPublishTraverse)
class ManageView(BrowserView):
    template = ViewPageTemplateFile("templates/manage.pt")

    token = None
    subscriber = None
    stage = "manage"  # manage, confirm-delete, deleted, unknown, limited
    message = None
    message_kind = "success"
    errors = None

    below_token = False

    def publishTraverse(self, request, name):
        # The first name after the view is the token. Nothing lies below it: such links
        # get this page's own "unknown link" answer rather than a generic error page.
        if self.token is None:
            self.token = name
        else:
            self.below_token = True
        return self

    def __call__(self):
        response = self.request.response
        response.setHeader("Cache-Control", "no-store")
        response.setHeader("Referrer-Policy", "no-referrer")
        response.setHeader("X-Robots-Tag", "noindex, nofollow")
        self.errors = {}
        if self.token and not self.below_token:
            ip = ratelimit.client_ip(self.request)
            try:
                ratelimit.check_manage_lookups(ip)
            except ratelimit.RateLimited as limited:
                self.stage = "limited"
                self.message = limited.message
                response.setStatus(429)
                response.setHeader("Retry-After", str(max(1, limited.retry_after)))
                return self.template()
            self.subscriber = get_store().by_manage_token(self.token)
            if self.subscriber is None:
                ratelimit.count_manage_miss(ip)
        if self.subscriber is None:
            self.stage = "unknown"
            response.setStatus(404)
        elif self.request.method == "POST":
            self.handle_post()
        return self.template()

    def handle_post(self):
        form = self.request.form
        if not manage_csrf.is_valid(self.token, form.get(manage_csrf.FIELD)):
            self.request.response.setStatus(400)
            self.message_kind = "danger"
            self.message = _(
                "manage_form_expired",
                default="This form is out of date. Please try again.",
            )
            return
        # Checked above with a token bound to this subscriber; plone.protect's own check
        # would refuse logged-in visitors, whose forms carry no per-user token here.
        alsoProvides(self.request, IDisableCSRFProtection)
        action = form.get("action")
        if action == "save" and self.subscriber.is_active:
            self.save()
        elif action == "unsubscribe" and self.subscriber.is_active:
            store = get_store()
            store.unsubscribe(self.subscriber)
            replies.queue_goodbye(self.subscriber)
            self.message = _(
                "manage_unsubscribed",
                default="You have left. You will receive no more messages.",
            )
        elif action == "delete":
            self.stage = "confirm-delete"
        elif action == "delete-confirmed":
            get_store().delete(self.subscriber)
            self.stage = "deleted"
        # "cancel" and anything else: show the page again.

    def save(self):
        form = self.request.form
        topics = form.get("topics") or []
        if isinstance(topics, str):
            topics = [topics]
        offered = [topic["id"] for topic in offer.offered_topics()]
        chosen = sorted({
            topic for topic in topics if isinstance(topic, str) and topic in offered
        })
        if not chosen:
            self.errors["topics"] = _(
                "manage_topics_missing",
                default="Please choose at least one topic. To receive nothing, leave below.",
            )
        mode = form.get("mode", "immediate")
        if mode not in MODES:
            self.errors["mode"] = _(
                "manage_mode_unknown", default="Please choose how often."
            )
        if self.errors:
            self.request.response.setStatus(400)
            return
        store = get_store()
        store.set_topics(self.subscriber, chosen)
        store.set_mode(self.subscriber, mode)
        self.message = _("manage_saved", default="Your changes have been saved.")

    # -- for the template -------------------------------------------------------------------

    def form_token(self):
        return manage_csrf.form_token(self.token)

    def action_url(self):
        return f"{self.context.absolute_url()}/@@messenger-manage/{self.token}"

    def signup_url(self):
        return f"{self.context.absolute_url()}/@@messenger-signup"

    def channel_title(self):
        return CHANNEL_TITLES.get(self.subscriber.channel, self.subscriber.channel)

    def masked_address(self):
        """``+49 151 ••• 89`` for numbers, nothing more for chat ids (the template says "chat")."""
        return phones.mask_address(
            self.subscriber.channel, self.subscriber.address or ""
        )

    def topics(self):
        if self.errors and "topics" in self.errors:
            chosen = set()
        elif self.request.method == "POST" and self.errors:
            chosen = set(self.request.form.get("topics") or ())
        else:
            chosen = set(self.subscriber.topics)
        return [
            dict(
                topic,
                checked=topic["id"] in chosen,
                input_id=f"messenger-manage-topic-{topic['id']}",
            )
            for topic in offer.offered_topics()
        ]

    def error(self, name):
        return (self.errors or {}).get(name)
