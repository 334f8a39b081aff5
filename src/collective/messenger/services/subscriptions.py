"""``@messenger-subscriptions``: signing up, confirming and managing a subscription over REST.

- ``POST @messenger-subscriptions`` starts a signup (201 with the next step),
- ``POST @messenger-subscriptions/confirm`` checks a Signal/Threema code,
- ``POST @messenger-subscriptions/resend`` sends a new code,
- ``GET``, ``PATCH``, ``DELETE @messenger-subscriptions/<manage token>`` for the subscriber.

Everything is anonymous: the confirm token (given to whoever started the signup) and the
manage token (given only after the messenger or the code proved the address) are the
credentials. No answer contains an address, only the masked one of the subscriber's own
subscription. A client that tried too many unknown manage tokens gets 429 on the
``<manage token>`` calls for a while (``ratelimit.check_manage_lookups``).
"""

import logging

from collective.messenger import _
from collective.messenger.services.rest_body import json_object
from collective.messenger.services.rest_changes import ChangesInvalid
from collective.messenger.services.rest_changes import parse_changes
from collective.messenger.services.rest_errors import RestError
from collective.messenger.services.rest_service import MessengerService
from collective.messenger.services.rest_service import not_found
from collective.messenger.signup import flow
from collective.messenger.signup import phones
from collective.messenger.signup import ratelimit
from collective.messenger.signup import replies
from collective.messenger.subscribers import CodeCheck
from collective.messenger.subscribers import get_store
from collective.messenger.subscribers import SubscriberError
from collective.messenger.subscribers.model import ACTIVE
from collective.messenger.subscribers.model import UNSUBSCRIBED

log = logging.getLogger("collective.messenger")

SERVICE = "@messenger-subscriptions"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255
MAX_TOKEN_LENGTH = 128
TRUE_WORDS = ("true", "1", "yes")

INVALID = _("error_rest_invalid", default="Please correct the marked fields.")
SIGNUP_EXPIRED = flow.EXPIRED_SIGNUP
UNKNOWN_SUBSCRIPTION = _(
    "error_subscription_unknown",
    default="This subscription does not exist (any more). Please sign up again.",
)


def service_url(context, *params):
    return "/".join([context.absolute_url(), SERVICE, *params])


def invalid(errors, status=400, discard=True):
    """A 400 naming each wrong field; the summary is the message itself when there is one."""
    message = next(iter(errors.values())) if len(errors) == 1 else INVALID
    return RestError(status, "ValidationError", message, errors=errors, discard=discard)


def rate_limited(error):
    return RestError(
        429,
        "RateLimited",
        error.message,
        headers={"Retry-After": str(max(1, error.retry_after))},
    )


def refused_by_store(error):
    # The store checks again what the flow validated; reaching this is a missing check.
    log.warning("Subscriber store refused a REST request: %s", error)
    return RestError(
        400,
        "BadRequest",
        _("error_signup_refused", default="Your signup could not be processed."),
    )


class SubscriptionsPost(MessengerService):
    """``POST @messenger-subscriptions[/confirm|/resend]``."""

    def answer(self):
        if not self.params:
            return self.signup()
        if self.params == ["confirm"]:
            return self.confirm()
        if self.params == ["resend"]:
            return self.resend()
        raise not_found()

    def signup(self):
        body = json_object(self.request)
        data = {
            "topics": body.get("topics"),
            "channel": body.get("channel"),
            "phone": body.get("phone"),
            # An API states consent explicitly: JSON true, not any truthy value.
            "consent": body.get("consent") is True,
            "language": body.get("language"),
            "website": "",  # the honeypot is for HTML forms
        }
        try:
            step = flow.start_signup(data, "rest", self.request, self.idempotency_key())
        except flow.SignupInvalid as error:
            raise invalid(error.errors)
        except ratelimit.RateLimited as error:
            raise rate_limited(error)
        except SubscriberError as error:
            raise refused_by_store(error)
        self.request.response.setStatus(201)
        return self.next_step(step)

    def idempotency_key(self):
        key = self.request.getHeader(IDEMPOTENCY_HEADER)
        if key is None:
            return None
        key = key.strip()
        if not key or len(key) > MAX_IDEMPOTENCY_KEY:
            raise invalid({
                IDEMPOTENCY_HEADER: _(
                    "error_idempotency_key",
                    default="The Idempotency-Key header must have 1 to 255 characters.",
                )
            })
        return key

    def next_step(self, step):
        answer = step.as_json()
        if step.kind == "code":
            answer["confirm"] = service_url(self.context, "confirm")
            answer["resend"] = service_url(self.context, "resend")
        return answer

    def confirm(self):
        body = json_object(self.request)
        token = self.token_from(body)
        code = body.get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            code = str(code)
        result = flow.confirm_code(token, code)
        if result.ok:
            subscriber = result.subscriber
            return {
                "@id": service_url(self.context, subscriber.manage_token),
                "state": subscriber.state,
                "manage_token": subscriber.manage_token,
                "manage_url": replies.manage_url(subscriber),
            }
        if result.subscriber is None:
            raise RestError(410, "SignupExpired", result.message)
        if result.check is None:  # not six digits: nothing was counted
            raise invalid({"code": result.message})
        # From here on the attempt was counted on the record: keep it (commit).
        if result.check is CodeCheck.WRONG:
            raise invalid({"code": result.message}, discard=False)
        if result.check is CodeCheck.EXPIRED:
            raise RestError(410, "CodeExpired", result.message, discard=False)
        kind = "CodeExhausted" if result.check is CodeCheck.EXHAUSTED else "CodeMissing"
        raise RestError(400, kind, result.message, discard=False)

    def resend(self):
        token = self.token_from(json_object(self.request))
        try:
            step = flow.resend_code(token, self.request)
        except flow.SignupInvalid:
            raise RestError(410, "SignupExpired", SIGNUP_EXPIRED)
        except ratelimit.RateLimited as error:
            raise rate_limited(error)
        return self.next_step(step)

    def token_from(self, body):
        token = body.get("token")
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise invalid({
                "token": _(
                    "error_token_missing",
                    default="The signup token is missing or malformed.",
                )
            })
        return token


class ManageService(MessengerService):
    """Base of the services on ``@messenger-subscriptions/<manage token>``."""

    def subscriber(self):
        """The subscriber of the token in the URL; 404 for an unknown one, 429 for a client
        that tried too many unknown tokens (only misses count: the owner is never limited)."""
        if len(self.params) != 1:
            raise not_found(UNKNOWN_SUBSCRIPTION)
        ip = ratelimit.client_ip(self.request)
        try:
            ratelimit.check_manage_lookups(ip)
        except ratelimit.RateLimited as error:
            raise rate_limited(error)
        token = self.params[0]
        subscriber = None
        if 0 < len(token) <= MAX_TOKEN_LENGTH:
            subscriber = get_store().by_manage_token(token)
        if subscriber is None:
            ratelimit.count_manage_miss(ip)
            raise not_found(UNKNOWN_SUBSCRIPTION)
        return subscriber

    def represent(self, subscriber):
        return {
            "@id": service_url(self.context, subscriber.manage_token),
            "channel": subscriber.channel,
            "address": masked_address(subscriber),
            "topics": list(subscriber.topics),
            "mode": subscriber.mode,
            "language": subscriber.language,
            "state": subscriber.state,
            "created": iso(subscriber.created),
            "confirmed": iso(subscriber.confirmed),
            "unsubscribed": iso(subscriber.unsubscribed),
            "manage_url": replies.manage_url(subscriber),
        }


class SubscriptionGet(ManageService):
    def answer(self):
        return self.represent(self.subscriber())


class SubscriptionPatch(ManageService):
    def answer(self):
        subscriber = self.subscriber()
        body = json_object(self.request)
        try:
            changes = parse_changes(body, subscriber)
        except ChangesInvalid as error:
            raise invalid(error.errors)
        store = get_store()
        try:
            if "topics" in changes:
                store.set_topics(subscriber, changes["topics"])
            if "mode" in changes:
                store.set_mode(subscriber, changes["mode"])
            if "language" in changes:
                store.set_language(subscriber, changes["language"])
        except SubscriberError as error:
            raise refused_by_store(error)
        if changes.get("state") == UNSUBSCRIBED:
            leave(store, subscriber)
        return self.represent(subscriber)


class SubscriptionDelete(ManageService):
    """Delete all data (GDPR erasure), or with ``?unsubscribe_only=true`` just leave."""

    def answer(self):
        subscriber = self.subscriber()
        store = get_store()
        if str(self.request.form.get("unsubscribe_only", "")).lower() in TRUE_WORDS:
            leave(store, subscriber)
        else:
            store.delete(subscriber)
        return self.reply_no_content()


def leave(store, subscriber):
    """Unsubscribe; an active subscriber gets the goodbye message (after commit)."""
    was_active = subscriber.state == ACTIVE
    store.unsubscribe(subscriber)
    if was_active:
        replies.queue_goodbye(subscriber)


def masked_address(subscriber):
    address = subscriber.address
    if not address or subscriber.channel == "telegram":
        return None
    if subscriber.channel == "whatsapp" and address.isdigit():
        address = "+" + address  # a wa_id is the number without "+"
    return phones.mask_address(subscriber.channel, address) or None


def iso(value):
    return value.isoformat() if value is not None else None
