"""Signing up and confirming with a code: the steps every front end shares.

The portlet, the ``@@messenger-signup`` page and the REST API call ``start_signup`` with
the submitted data and show the ``NextStep``; Signal and Threema signups then post the
code to ``confirm_code``. Validation errors come back as ``SignupInvalid`` with one
message per field, limits as ``ratelimit.RateLimited``; both are for the citizen to read.
"""

import re
from dataclasses import dataclass
from datetime import datetime

import transaction
from plone import api
from zope.globalrequest import getRequest
from zope.i18n import translate

from collective.messenger import _
from collective.messenger.signup import links
from collective.messenger.signup import offer
from collective.messenger.signup import phones
from collective.messenger.signup import ratelimit
from collective.messenger.signup import replies
from collective.messenger.subscribers import get_store
from collective.messenger.subscribers.codes import CodeCheck
from collective.messenger.subscribers.model import CODE_ATTEMPTS
from collective.messenger.subscribers.model import Consent

HONEYPOT_FIELD = "website"
TRUE_VALUES = (True, "on", "1", "true", "yes", "True", 1)
LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[a-z]{2,4})?$")
CODE = re.compile(r"^\d{6}$")
MAX_TOPICS = 100


class SignupInvalid(ValueError):
    """Submitted data the site cannot accept; ``errors`` maps field names to messages."""

    def __init__(self, errors):
        super().__init__(", ".join(sorted(errors)))
        self.errors = errors


@dataclass
class NextStep:
    """What the citizen does next: open a link (Telegram, WhatsApp) or enter a code."""

    channel: str
    kind: str  # "link" or "code"
    link: str | None
    qr_svg: str | None
    token: str
    expires: datetime
    subscriber_id: str
    address: str | None = (
        None  # Signal/Threema: the number the code went to (shown masked)
    )

    def as_json(self):
        return {
            "channel": self.channel,
            "kind": self.kind,
            "link": self.link,
            "qr_svg": self.qr_svg,
            "token": self.token,
            "expires": self.expires.isoformat(),
            "sent_to": phones.mask_address(self.channel, self.address)
            if self.address
            else None,
        }


@dataclass
class CodeResult:
    ok: bool
    check: CodeCheck | None
    subscriber: object
    message: object  # for the citizen


def request_language():
    """The language this request negotiated (the site's default for a webhook call)."""
    language = api.portal.get_current_language() or "de"
    return language.split("-")[0].split("_")[0].lower()


def parse_signup(data):
    """The submitted values checked against what the site offers: a dict for ``add_pending``.

    Raises ``SignupInvalid`` with every problem at once, so a form can mark all fields.
    """
    errors = {}
    if data.get(HONEYPOT_FIELD):
        # Filled only by bots: the hidden field is out of sight and out of the tab order.
        raise SignupInvalid({
            "form": _(
                "error_signup_refused", default="Your signup could not be processed."
            )
        })

    offered_topics = [topic["id"] for topic in offer.offered_topics()]
    topics = data.get("topics")
    if isinstance(topics, str):
        topics = (
            [topic for topic in topics.split(",") if topic.strip()]
            if "," in topics
            else [topics]
        )
    if not topics:
        errors["topics"] = _(
            "error_topics_missing", default="Please choose at least one topic."
        )
    elif (
        not isinstance(topics, (list, tuple))
        or len(topics) > MAX_TOPICS
        or not all(
            isinstance(topic, str) and topic.strip() in offered_topics
            for topic in topics
        )
    ):
        errors["topics"] = _(
            "error_topics_unknown", default="Please choose from the topics offered."
        )
    else:
        topics = sorted({topic.strip() for topic in topics})

    channels = {channel["id"]: channel for channel in offer.offered_channels()}
    channel = data.get("channel")
    address = None
    if not isinstance(channel, str) or channel not in channels:
        if not channels:
            errors["channel"] = _(
                "error_no_channels", default="Subscriptions are not open yet."
            )
        else:
            errors["channel"] = _(
                "error_channel_missing", default="Please choose a messenger."
            )
    elif channels[channel]["needs"] == offer.PHONE:
        phone = data.get("phone")
        try:
            address = phones.normalise_phone(
                phone if isinstance(phone, str) else "", offer.phone_region(), channel
            )
        except phones.PhoneInvalid as error:
            errors["phone"] = error.message

    if data.get("consent") not in TRUE_VALUES:
        errors["consent"] = _(
            "error_consent_missing",
            default="Please agree to the privacy notice to subscribe.",
        )

    language = data.get("language") or request_language()
    if not isinstance(language, str) or not LANGUAGE.match(language):
        errors["language"] = _(
            "error_language", default="Please choose a language such as de or en."
        )

    if errors:
        raise SignupInvalid(errors)
    return {
        "channel": channel,
        "topics": topics,
        "address": address,
        "language": language,
    }


def start_signup(data, path, request, request_key=None):
    """Store a pending signup and return its ``NextStep``.

    Raises ``SignupInvalid`` or ``ratelimit.RateLimited``; nothing is stored then.
    """
    values = parse_signup(data)
    ratelimit.limit_signups(ratelimit.client_ip(request))
    store = get_store()
    before_signup = transaction.savepoint()
    subscriber = store.add_pending(
        values["channel"],
        values["topics"],
        values["language"],
        Consent(privacy_version=offer.privacy()["version"], path=path),
        address=values["address"],
        request_key=request_key or None,
    )
    if values["address"] is not None and subscriber.code is None:
        # Only a code that is really sent counts against the number's daily limit: a
        # repeated request (same request_key) finds its code already sent.
        try:
            ratelimit.limit_codes(values["address"])
            ratelimit.take_code_budget(values["channel"])
        except ratelimit.RateLimited:
            before_signup.rollback()
            raise
        replies.queue_code(subscriber, store.issue_code(subscriber))
    return next_step(subscriber)


def next_step(subscriber):
    settings = offer.channel_settings(subscriber.channel)
    link = None
    if subscriber.channel == "telegram":
        link = links.telegram_link(settings["bot_username"], subscriber.confirm_token)
    elif subscriber.channel == "whatsapp":
        link = links.whatsapp_link(
            settings["business_number"], subscriber.confirm_token
        )
    title = offer.CHANNEL_TITLES[subscriber.channel]
    return NextStep(
        channel=subscriber.channel,
        kind="link" if link else "code",
        link=link,
        qr_svg=links.qr_svg(link, _qr_label(title)) if link else None,
        token=subscriber.confirm_token,
        expires=subscriber.confirm_expires,
        subscriber_id=subscriber.id,
        address=subscriber.address,
    )


def _qr_label(channel_title):
    # The SVG is markup, not a template: translate its label here, for the current request.
    request = getRequest()
    return translate(
        links.qr_title(translate(channel_title, context=request)), context=request
    )


def pending(token):
    return get_store().by_confirm_token(token) if isinstance(token, str) else None


EXPIRED_SIGNUP = _(
    "error_signup_expired",
    default="This signup is unknown or has expired. Please sign up again.",
)


def confirm_code(token, code):
    """Check the code of a Signal or Threema signup; on success the subscription is active.

    Wrong attempts are counted on the record: the caller must commit also when this
    answers ``ok=False`` (return the message; do not raise).
    """
    store = get_store()
    subscriber = pending(token)
    if subscriber is None or subscriber.channel not in ("signal", "threema"):
        return CodeResult(False, None, None, EXPIRED_SIGNUP)
    code = "".join((code if isinstance(code, str) else "").split())
    if not CODE.match(code):
        return CodeResult(
            False,
            None,
            subscriber,
            _(
                "error_code_format",
                default="Please enter the 6-digit code from the message.",
            ),
        )
    check = store.verify_code(subscriber, code)
    if check is CodeCheck.OK:
        survivor = store.activate(subscriber)
        replies.queue_welcome(survivor)
        return CodeResult(
            True,
            check,
            survivor,
            _(
                "signup_confirmed",
                default="You are subscribed. We have sent you a welcome message.",
            ),
        )
    if check is CodeCheck.WRONG:
        left = CODE_ATTEMPTS - subscriber.code.attempts
        message = _(
            "error_code_wrong",
            default="This code is not correct. You have ${left} more attempts.",
            mapping={"left": left},
        )
    elif check is CodeCheck.EXHAUSTED:
        message = _(
            "error_code_exhausted",
            default="Too many wrong codes. Please request a new code.",
        )
    elif check is CodeCheck.EXPIRED:
        message = _(
            "error_code_expired",
            default="This code has expired. Please request a new code.",
        )
    else:
        message = _("error_code_missing", default="Please request a new code.")
    return CodeResult(False, check, subscriber, message)


def resend_code(token, request):
    """A new code for a pending Signal or Threema signup (at most 3 a day per number, within
    the channel's daily budget)."""
    store = get_store()
    subscriber = pending(token)
    if subscriber is None or subscriber.channel not in ("signal", "threema"):
        raise SignupInvalid({"form": EXPIRED_SIGNUP})
    ratelimit.limit_codes(subscriber.address)
    ratelimit.take_code_budget(subscriber.channel)
    replies.queue_code(subscriber, store.issue_code(subscriber))
    return next_step(subscriber)
