"""signal-cli-rest-api's received messages as events.

In json-rpc mode with ``RECEIVE_WEBHOOK_URL`` set, signal-cli-rest-api posts every
notification signal-cli sends it, as is: ``{"jsonrpc": "2.0", "method": "receive",
"params": {"envelope": {...}, "account": "+49..."}}``. The bare ``{"envelope", "account"}``
that ``GET /v1/receive`` lists (and the sandbox posts) is understood too.

Only a ``dataMessage`` with text from a number, outside groups, is a citizen writing to us;
receipts, typing notices, sync messages of our own devices and group messages are not.
"""

import re

from collective.messenger.webhooks.events import Message

CHANNEL = "signal"
MAX_TEXT = 4096
E164 = re.compile(
    r"\+[1-9][0-9]{5,14}"
)  # our Signal addresses (the sender may hide it: a UUID)


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _unwrap(payload):
    if "jsonrpc" in payload or "method" in payload:
        if payload.get("method") != "receive":
            return {}
        return _mapping(payload.get("params"))
    return payload


def events(payload, account=None):
    """The events of one posted notification (a list with at most one)."""
    received = _unwrap(payload)
    if account and received.get("account") not in (None, account):
        return []  # for another number registered in the same signal-cli
    envelope = _mapping(received.get("envelope"))
    data = _mapping(envelope.get("dataMessage"))
    number = envelope.get("sourceNumber") or envelope.get("source")
    text = data.get("message")
    if data.get("groupInfo") or data.get("groupV2"):
        return []
    if (
        not isinstance(number, str)
        or not E164.fullmatch(number)
        or not isinstance(text, str)
        or not text
    ):
        return []
    name = envelope.get("sourceName")
    name = name if isinstance(name, str) and name else None
    return [
        Message(
            CHANNEL, number, text[:MAX_TEXT], name, _delivery(number, envelope, data)
        )
    ]


def _delivery(number, envelope, data):
    """Signal names a message by its sender and its timestamp (milliseconds)."""
    timestamp = data.get("timestamp", envelope.get("timestamp"))
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        return None
    return f"{number}:{timestamp}"
