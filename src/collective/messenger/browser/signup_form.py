"""The signup form fragment shared by the ``@@messenger-signup`` page and the signup portlet.

One class renders the form for a given state (preselected topics, submitted values, errors),
so the page and the portlet cannot drift apart. Field names are those
``flow.start_signup`` reads: topics, channel, phone, consent, website (the honeypot),
plus request_key (a nonce per rendered form, so a double submit stores one signup), path
(where the signup came from: "page" or "portlet") and form_token (``signup_token``: the
page refuses POSTs that do not come from its own form).
"""

import re
import secrets
import time
from functools import cached_property

from plone import api
from Products.Five.browser import BrowserView
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from zope.i18n import translate

from collective.messenger import _
from collective.messenger.browser import signup_token
from collective.messenger.signup import flow
from collective.messenger.signup import offer
from collective.messenger.signup import ratelimit
from collective.messenger.signup.pseudonyms import pseudonym

PATHS = ("page", "portlet")
REQUEST_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# A double submit comes within seconds; a cached page gives everyone the same nonce.
DOUBLE_SUBMIT_WINDOW_SECONDS = 600
ERROR_ORDER = ("form", "topics", "channel", "phone", "consent", "language")


def new_request_key():
    return secrets.token_urlsafe(18)


def signup_request_key(form, request, now=None):
    """The posted form's nonce, bound to the visitor and a ten-minute window, or None.

    A proxy serves one rendering of the page (one nonce) to everybody: two citizens who
    choose the same topics on a cached page must not share one signup. The same browser
    sending the form twice in a row still finds its first signup.
    """
    key = form.get("request_key")
    if not isinstance(key, str) or not key:
        return None
    visitor = f"{ratelimit.client_ip(request)}|{request.getHeader('User-Agent') or ''}"
    window = int(
        (now if now is not None else time.time()) // DOUBLE_SUBMIT_WINDOW_SECONDS
    )
    return f"{key[:64]}.{pseudonym('form-visitor', visitor)[:16]}.{window}"


def submitted_topics(form):
    """The topic ids of a submitted form as a list (Zope gives one value as a string)."""
    topics = form.get("topics") or []
    if isinstance(topics, str):
        topics = [topics]
    return [topic for topic in topics if isinstance(topic, str)]


def topics_from_query(value):
    """``?topics=a,b`` of a link or poster: topic ids, unknown ones dropped later."""
    if isinstance(value, (list, tuple)):
        value = ",".join(item for item in value if isinstance(item, str))
    if not isinstance(value, str):
        return []
    return [topic.strip() for topic in value.split(",") if topic.strip()]


class SignupFormFragment(BrowserView):
    """The form as an HTML fragment; ``prefix`` keeps element ids unique when the page and a
    portlet show a form at once."""

    template = ViewPageTemplateFile("templates/signup_form.pt")

    def __init__(
        self,
        context,
        request,
        path="page",
        prefix="messenger-signup",
        preselected=(),
        values=None,
        errors=None,
        show_descriptions=True,
    ):
        super().__init__(context, request)
        self.path = path if path in PATHS else "page"
        self.prefix = prefix
        self.preselected = list(preselected or ())
        self.values = values  # a submitted form to show again, or None for a fresh form
        self.errors = dict(errors or {})
        self.show_descriptions = show_descriptions

    def __call__(self):
        return self.template()

    # Read once per rendering: the settings document is built from the registry and secrets.
    @cached_property
    def offered_topics(self):
        return offer.offered_topics()

    @cached_property
    def offered_channels(self):
        return offer.offered_channels()

    # -- what the template shows ------------------------------------------------------------

    def action(self):
        return f"{self.context.absolute_url()}/@@messenger-signup"

    def field_id(self, name):
        return f"{self.prefix}-{name}"

    def request_key(self):
        """Keep the nonce of a resubmitted form (its signup is the same), else a new one."""
        key = (self.values or {}).get("request_key")
        if isinstance(key, str) and REQUEST_KEY.match(key):
            return key
        return new_request_key()

    def form_token(self):
        return signup_token.form_token()

    def topics(self):
        if self.values is not None:
            chosen = set(submitted_topics(self.values))
        else:
            chosen = set(self.preselected)
        return [
            dict(
                topic,
                checked=topic["id"] in chosen,
                input_id=self.field_id(f"topic-{topic['id']}"),
            )
            for topic in self.offered_topics
        ]

    def channels(self):
        chosen = (self.values or {}).get("channel")
        channels = self.offered_channels
        if chosen is None and len(channels) == 1:
            chosen = channels[0]["id"]
        return [
            dict(
                channel,
                checked=channel["id"] == chosen,
                input_id=self.field_id(f"channel-{channel['id']}"),
            )
            for channel in channels
        ]

    def phone_channels(self):
        """Titles of the channels that need a number, for the hint next to the phone field."""
        return [
            channel
            for channel in self.offered_channels
            if channel["needs"] == offer.PHONE
        ]

    def phone_hint(self):
        titles = [
            translate(channel["title"], context=self.request)
            for channel in self.phone_channels()
        ]
        return _(
            "signup_phone_hint",
            default="Only for ${channels}: the number we send the confirmation code to.",
            mapping={"channels": _join(titles, self.request)},
        )

    def value(self, name):
        value = (self.values or {}).get(name, "")
        return value if isinstance(value, str) else ""

    def consent_checked(self):
        return (self.values or {}).get("consent") in flow.TRUE_VALUES

    def privacy(self):
        privacy = dict(offer.privacy())
        url = privacy.get("url") or ""
        if url.startswith("/"):
            # A path in the control panel means a page of this site, wherever the site is mounted.
            url = api.portal.get().absolute_url() + url
        privacy["url"] = url
        return privacy

    def error(self, name):
        return self.errors.get(name)

    def error_list(self):
        """The errors for the summary, in the order of the fields, each with its target."""
        # Links lead to the first input of a group: a link to a fieldset would not move focus.
        topics, channels = self.topics(), self.channels()
        targets = {
            "topics": topics[0]["input_id"] if topics else None,
            "channel": channels[0]["input_id"] if channels else None,
            "phone": self.field_id("phone") if self.phone_channels() else None,
            "consent": self.field_id("consent"),
        }
        found = [name for name in ERROR_ORDER if name in self.errors]
        found += sorted(name for name in self.errors if name not in ERROR_ORDER)
        return [
            {"message": self.errors[name], "target": targets.get(name)}
            for name in found
        ]

    def described_by(self, name, *extra):
        ids = [item for item in extra if item]
        if name in self.errors:
            ids.append(self.field_id(f"{name}-error"))
        return " ".join(ids) or None


def _join(titles, request):
    if len(titles) < 2:
        return "".join(titles)
    last = translate(_("signup_and", default="and"), context=request)
    return f"{', '.join(titles[:-1])} {last} {titles[-1]}"
