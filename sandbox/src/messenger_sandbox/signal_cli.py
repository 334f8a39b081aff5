"""signal-cli-rest-api (bbernhard/signal-cli-rest-api) as the sandbox plays it: ``/signal/...``.

``POST /v2/send`` {message, number, recipients, text_mode, base64_attachments} answers
201 ``{"timestamp": "..."}``; failures are HTTP 400 ``{"error": "..."}`` carrying signal-cli's
own words. A Signal rate limit surfaces, in json-rpc mode, as HTTP 429 with challenge tokens
(``rate_limit_style: "challenge"``), or in older/normal mode as a 400 whose text holds
signal-cli's "[413] Rate limit exceeded" (``"legacy"``).
"""

import base64
import binascii
import re
import secrets
import time

from messenger_sandbox.httpserver import BadRequest
from messenger_sandbox.httpserver import Response

CHANNEL = "signal"
_NUMBER = re.compile(r"^\+[1-9][0-9]{6,14}$")
_DATA_URI = re.compile(r"^data:([^;,]+)(?:;[^,;]*)*;base64,(.*)$", re.S)
_last_timestamp = [0]


def fail(message, status=400):
    return Response.json({"error": message}, status=status)


def server_error():
    return fail("Internal Server Error", status=500)


def handle(sandbox, request, path):
    settings = sandbox.state.config[CHANNEL]
    if path == "/v1/about" and request.method in ("GET", "HEAD"):
        return Response.json({
            "versions": ["v1", "v2"],
            "build": 2,
            "mode": "json-rpc",
            "version": "0.92",
            "capabilities": {"v2/send": ["quotes", "mentions"]},
        })
    if path == "/v1/health":
        return Response(204, b"")
    if path == "/v1/accounts" and request.method == "GET":
        return Response.json([] if settings["bad_token"] else [settings["number"]])
    if path.startswith("/v1/receive/") and request.method == "GET":
        number = path.rsplit("/", 1)[1].replace("%2B", "+")
        if number != settings["number"] or settings["bad_token"]:
            return fail(f"User {number} is not registered.\n")
        inbox = sandbox.state.signal_inbox[number]
        envelopes, inbox[:] = list(inbox), []
        return Response.json(envelopes)
    if path in ("/v2/send", "/v1/send") and request.method == "POST":
        return send(sandbox, settings, request)
    return Response(404, "404 page not found")


def send(sandbox, settings, request):
    state = sandbox.state
    stats = state.stats[CHANNEL]
    try:
        data = request.json()
    except BadRequest:
        data = None
    if not isinstance(data, dict):
        stats.validation_errors += 1
        return fail("Couldn't process request - invalid request")
    recipients = data.get("recipients")
    if not isinstance(recipients, list) or not recipients:
        stats.validation_errors += 1
        return fail("Couldn't process request - please provide at least one recipient")
    number = data.get("number")
    if not number:
        stats.validation_errors += 1
        return fail("Couldn't process request - please provide a valid number")
    if number != settings["number"] or settings["bad_token"]:
        # The sender account is what stands for credentials here.
        stats.refused += 1
        return fail(f"User {number} is not registered.\n")
    text_mode = data.get("text_mode") or "normal"
    if text_mode not in ("normal", "styled"):
        stats.validation_errors += 1
        return fail("Couldn't process request - invalid text mode")
    message = data.get("message") or ""
    attachments = data.get("base64_attachments") or []
    if not isinstance(message, str) or not isinstance(attachments, list):
        stats.validation_errors += 1
        return fail("Couldn't process request - invalid request")
    images = []
    for attachment in attachments:
        decoded = _attachment(attachment)
        if decoded is None:
            stats.validation_errors += 1
            return fail(
                "Couldn't process request - invalid attachment (base64 expected)"
            )
        images.append(decoded)
    if not message and not images:
        stats.validation_errors += 1
        return fail("Failed to send message: Message is empty\n")
    for recipient in recipients:
        if not isinstance(recipient, str) or not (
            _NUMBER.match(recipient) or recipient.startswith("group.")
        ):
            stats.validation_errors += 1
            return fail(f"Failed to send message: Invalid number: {recipient}\n")

    wait = state.take_token(CHANNEL)
    if wait:
        stats.rate_limited += 1
        if settings["rate_limit_style"] == "legacy":
            return fail(
                "Failed to send message: [413] Rate limit exceeded: 413 (RateLimitException)\n"
            )
        return Response.json(
            {
                "error": "Failed to send message due to rate limiting. Use the attached challenge tokens to lift "
                "the rate limit restrictions via the '/v1/accounts/{number}/rate-limit-challenge' endpoint.",
                "challenge_tokens": [secrets.token_hex(16)],
                "account": settings["number"],
            },
            status=429,
        )
    missing = [
        r
        for r in recipients
        if state.listed(CHANNEL, "unknown", r)
        or state.listed(CHANNEL, "deactivated", r)
    ]
    if missing:
        stats.refused += 1
        lines = "".join(f'{r}: Unregistered user "{r}"\n' for r in missing)
        return fail(f"Failed to send (some) messages:\n{lines}")
    timestamp = _timestamp()
    image = images[0] if images else None
    for recipient in recipients:
        # Signal tells a sender nothing about blocks: blocked recipients "receive" too.
        state.record(
            CHANNEL,
            recipient,
            "photo" if images else "text",
            message,
            message_id=timestamp,
            image=image,
            text_mode=text_mode,
            attachments=len(images),
        )
    return Response.json({"timestamp": str(timestamp)}, status=201)


def _attachment(value):
    """A shown image (data URI when small) or a description; None when it is not base64."""
    if not isinstance(value, str) or not value:
        return None
    match = _DATA_URI.match(value)
    mime, payload = (
        (match.group(1), match.group(2))
        if match
        else ("application/octet-stream", value)
    )
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None
    if mime.startswith("image/") and len(raw) <= 256 * 1024:
        return f"data:{mime};base64,{payload}"
    return f"{mime}, {len(raw)} bytes"


def _timestamp():
    """Milliseconds since the epoch, unique per message as signal-cli's are."""
    now = int(time.time() * 1000)
    _last_timestamp[0] = max(now, _last_timestamp[0] + 1)
    return _last_timestamp[0]
