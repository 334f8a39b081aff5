"""The Threema Gateway message API (basic mode) as the sandbox plays it: ``/threema/...``.

``POST /send_simple`` (form: from, to|phone|email, text, secret) answers 200 with the new
message id (16 hex digits, text/plain). The HTTP status alone tells what went wrong, with an
empty body, as https://gateway.threema.ch/en/developer/api describes: 400 bad recipient
identity, 401 wrong API identity or secret, 402 no credits, 404 phone/email not found,
413 text over 3500 bytes, 500 temporary trouble. The public documentation names no rate-limit
answer for sending; the sandbox's cap answers 429 (what the Gateway's lookups use).
"""

import hashlib
import re
import secrets

from messenger_sandbox.httpserver import BadRequest
from messenger_sandbox.httpserver import Response

CHANNEL = "threema"
TEXT_LIMIT_BYTES = 3500
_IDENTITY = re.compile(r"^[0-9A-Z*][0-9A-Z]{7}$")
_PHONE = re.compile(r"^[1-9][0-9]{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def status(code):
    return Response(code, b"")


def server_error():
    return status(500)


def handle(sandbox, request, path):
    if path == "/send_simple" and request.method == "POST":
        return send_simple(sandbox, request)
    if path == "/credits" and request.method in ("GET", "HEAD"):
        settings = sandbox.state.config[CHANNEL]
        if not _authorized(settings, request.query()):
            return status(401)
        return Response(
            200, str(0 if settings["no_credits"] else sandbox.state.threema_credits)
        )
    if (
        path.startswith(("/lookup/phone/", "/lookup/email/"))
        and request.method == "GET"
    ):
        settings = sandbox.state.config[CHANNEL]
        if not _authorized(settings, request.query()):
            return status(401)
        value = path.split("/", 3)[3]
        if sandbox.state.listed(CHANNEL, "unknown", value):
            return status(404)
        return Response(200, _identity_for(value))
    return status(404)


def _authorized(settings, fields):
    return (
        not settings["bad_token"]
        and fields.get("from") == settings["gateway_id"]
        and fields.get("secret") == settings["secret"]
    )


def _identity_for(value):
    """A stable made-up Threema ID for a phone number or e-mail address."""
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest().upper()
    return "".join(ch for ch in digest if ch.isalnum())[:8]


def send_simple(sandbox, request):
    state = sandbox.state
    settings = state.config[CHANNEL]
    stats = state.stats[CHANNEL]
    try:
        fields = request.form() if request.body else request.query()
    except BadRequest:
        stats.validation_errors += 1
        return status(400)
    if not _authorized(settings, fields):
        stats.refused += 1
        return status(401)
    to, phone, email = fields.get("to"), fields.get("phone"), fields.get("email")
    text = fields.get("text")
    if sum(1 for v in (to, phone, email) if v) != 1 or not text:
        stats.validation_errors += 1
        return status(400)
    if to is not None and to != "":
        address = to.upper()
        if not _IDENTITY.match(address):
            stats.validation_errors += 1
            return status(400)
        if state.listed(CHANNEL, "unknown", address) or state.listed(
            CHANNEL, "deactivated", address
        ):
            stats.refused += (
                1  # an ID that does not exist (or was revoked) is "invalid" too
            )
            return status(400)
    elif phone:
        address = phone.lstrip("+")
        if not _PHONE.match(address):
            stats.validation_errors += 1
            return status(400)
    else:
        address = email.strip().lower()
        if not _EMAIL.match(address):
            stats.validation_errors += 1
            return status(400)
    if len(text.encode("utf-8")) > TEXT_LIMIT_BYTES:
        stats.validation_errors += 1
        return status(413)
    if (phone or email) and state.listed(CHANNEL, "unknown", address):
        stats.refused += 1
        return status(404)
    if settings["no_credits"] or state.threema_credits <= 0:
        stats.refused += 1
        return status(402)
    if state.take_token(CHANNEL):
        stats.rate_limited += 1
        return status(429)
    # Threema tells a sender nothing about blocks or revoked IDs in basic mode.
    state.threema_credits -= 1
    message_id = secrets.token_hex(8)
    state.record(
        CHANNEL,
        address,
        "text",
        text,
        message_id=message_id,
        recipient_type="identity" if to else ("phone" if phone else "email"),
    )
    return Response(200, message_id)
