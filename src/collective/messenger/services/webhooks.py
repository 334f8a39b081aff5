"""``@messenger-webhook``: where Telegram, WhatsApp (Meta) and signal-cli-rest-api post.

    POST <site>/@messenger-webhook/telegram            X-Telegram-Bot-Api-Secret-Token
    GET  <site>/@messenger-webhook/whatsapp            Meta's hub.verify_token handshake
    POST <site>/@messenger-webhook/whatsapp            X-Hub-Signature-256 of the raw body
    POST <site>/@messenger-webhook/signal/<secret>     the secret in the URL

Anyone may call them (the platforms have no Plone account), so each request proves itself
with the channel's secret before anything else happens. Checks, in this order: a body over
1 MB gets 413; a missing or wrong secret or signature 403; a body that is not a JSON object
400. A rejected request dooms the transaction, so it cannot change anything. A verified one
is answered 200 even when there was nothing to do: the platforms repeat what they consider
undelivered. A message or update seen in the last 24 hours is answered 200 and ignored
(``webhooks.replay``).

The platforms do not send ``Accept: application/json``, which plone.rest needs to find a
service; ``traversal.prepare_own_body_request`` marks requests for this service as API
requests, as the ``++api++`` prefix does (``<site>/++api++/@messenger-webhook/...`` works as well).
"""

import json
import logging

import transaction
from plone.protect.interfaces import IDisableCSRFProtection
from plone.restapi.services import Service
from zope.i18n import translate
from zope.interface import alsoProvides
from zope.interface import implementer
from zope.publisher.interfaces import IPublishTraverse

from collective.messenger import _
from collective.messenger.settings.access import settings_document
from collective.messenger.webhooks import dispatch
from collective.messenger.webhooks import replay
from collective.messenger.webhooks import signal
from collective.messenger.webhooks import telegram
from collective.messenger.webhooks import whatsapp
from collective.messenger.webhooks.requestbody import parse_json
from collective.messenger.webhooks.requestbody import read_body
from collective.messenger.webhooks.requestbody import Rejected
from collective.messenger.webhooks.verification import same_secret
from collective.messenger.webhooks.verification import valid_whatsapp_signature

log = logging.getLogger("collective.messenger")

JSON = "application/json"
PLATFORMS = ("telegram", "whatsapp", "signal")
# The secret each platform proves itself with.
SECRET_SETTINGS = {
    "telegram": "webhook_secret",
    "whatsapp": "app_secret",
    "signal": "webhook_secret",
}
# Path segments after the platform: Signal's secret.
EXTRA_SEGMENTS = {"telegram": 0, "whatsapp": 0, "signal": 1}

NOT_FOUND = _("webhook_not_found", default="There is no such messenger webhook.")
FORBIDDEN = _(
    "webhook_forbidden",
    default="The request could not be verified as coming from the messenger platform.",
)
WRONG_METHOD = _(
    "webhook_wrong_method", default="This webhook does not accept this HTTP method."
)
ERROR_TYPES = {
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
}


@implementer(IPublishTraverse)
class MessengerWebhook(Service):
    """One service for GET and POST; the platform is the next path segment."""

    def __init__(self, context, request):
        super().__init__(context, request)
        self.names = []

    def publishTraverse(self, request, name):
        self.names.append(name)
        return self

    def render(self):
        # Replaces plone.restapi's render and its permission check: open to all, each
        # platform proves itself with its secret in ``verified``.
        response = self.request.response
        try:
            status, body, content_type = self.answer()
        except Rejected as rejected:
            # Nothing a rejected request touched may be committed.
            transaction.doom()
            # The platform's name only: Signal's secret is the next path segment.
            log.info(
                "Messenger webhook %s answered %s: %s",
                self.names[0] if self.names else "-",
                rejected.status,
                translate(rejected.message),
            )
            status, content_type = rejected.status, JSON
            body = json.dumps({
                "error": {
                    "type": ERROR_TYPES.get(rejected.status, "Error"),
                    "message": translate(rejected.message, context=self.request),
                }
            })
        response.setStatus(status)
        response.setHeader("Content-Type", content_type)
        response.setHeader("Cache-Control", "no-store")
        response.setHeader("X-Content-Type-Options", "nosniff")
        return body

    # -- routing ---------------------------------------------------------------------------

    def answer(self):
        """(status, body, content type) for this request; raises Rejected to refuse it."""
        platform = self.names[0] if self.names else None
        if platform not in PLATFORMS or len(self.names) > 1 + EXTRA_SEGMENTS[platform]:
            raise Rejected(404, NOT_FOUND)
        method = self.request.get("REQUEST_METHOD", "GET").upper()
        if method == "GET" and platform == "whatsapp":
            return self.whatsapp_handshake()
        if method != "POST":
            self.request.response.setHeader(
                "Allow", "GET, POST" if platform == "whatsapp" else "POST"
            )
            raise Rejected(405, WRONG_METHOD)
        body = read_body(self.request)
        settings = settings_document()["channels"].get(platform) or {}
        if not self.verified(platform, settings, body):
            raise Rejected(403, FORBIDDEN)
        payload = parse_json(self.request, body)
        events = self.events(platform, settings, payload)
        # Authenticated by the platform's secret, not by a browser's cookie: CSRF does not apply.
        alsoProvides(self.request, IDisableCSRFProtection)
        checked = replay.fresh(platform, events)
        outcomes = [
            dispatch.apply_one(event) if is_fresh else replay.REPLAYED
            for event, is_fresh in checked
        ]
        return 200, json.dumps({"ok": True, "outcomes": outcomes}), JSON

    def verified(self, platform, settings, body):
        secret = settings.get(SECRET_SETTINGS[platform])
        if platform == "telegram":
            return same_secret(
                self.request.getHeader("X-Telegram-Bot-Api-Secret-Token"), secret
            )
        if platform == "whatsapp":
            return valid_whatsapp_signature(
                secret, body, self.request.getHeader("X-Hub-Signature-256")
            )
        given = self.names[1] if len(self.names) > 1 else None
        return same_secret(given, secret)

    def events(self, platform, settings, payload):
        if platform == "telegram":
            return telegram.events(payload)
        if platform == "whatsapp":
            return whatsapp.events(payload, settings.get("phone_number_id"))
        return signal.events(payload, settings.get("sender_number"))

    def whatsapp_handshake(self):
        settings = settings_document()["channels"].get("whatsapp") or {}
        challenge = whatsapp.handshake_challenge(
            self.request.form, settings.get("verify_token"), same_secret
        )
        if challenge is None:
            raise Rejected(403, FORBIDDEN)
        return 200, challenge, "text/plain; charset=utf-8"
