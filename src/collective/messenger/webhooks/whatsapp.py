"""WhatsApp Cloud API webhooks (``whatsapp_business_account``, field ``messages``) as events.

- ``messages`` of type ``text`` (and the title of a tapped quick-reply or interactive
  button): what the citizen wrote, from their wa_id, with the profile name from ``contacts``;
- ``statuses``: delivery receipts (sent, delivered, read, failed with ``errors[].code``).

Changes for another phone number of the same business account are skipped when our phone
number id is configured. Unexpected shapes yield no event rather than an error.
"""

import re

from collective.messenger.webhooks.events import Message
from collective.messenger.webhooks.events import Receipt

CHANNEL = "whatsapp"
OBJECT = "whatsapp_business_account"
MAX_TEXT = 4096
RECEIPT_STATUSES = ("sent", "delivered", "read", "failed")
MAX_CHALLENGE = 256
WA_ID = re.compile(r"[0-9]{5,20}")  # a wa_id: the number's digits, without "+"


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    return value if isinstance(value, list) else []


def _text(message):
    kind = message.get("type")
    if kind == "text":
        return _mapping(message.get("text")).get("body")
    if kind == "button":  # a quick-reply button of a template, e.g. "STOP"
        return _mapping(message.get("button")).get("text")
    if kind == "interactive":
        interactive = _mapping(message.get("interactive"))
        reply = _mapping(interactive.get("button_reply")) or _mapping(
            interactive.get("list_reply")
        )
        return reply.get("title")
    return None


def _names(value):
    names = {}
    for contact in _list(value.get("contacts")):
        contact = _mapping(contact)
        name = _mapping(contact.get("profile")).get("name")
        if isinstance(contact.get("wa_id"), str) and isinstance(name, str):
            names[contact["wa_id"]] = name
    return names


def _error_code(status):
    for error in _list(status.get("errors")):
        code = _mapping(error).get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    return None


def _values(payload, phone_number_id):
    if payload.get("object") != OBJECT:
        return
    for entry in _list(payload.get("entry")):
        for change in _list(_mapping(entry).get("changes")):
            change = _mapping(change)
            value = _mapping(change.get("value"))
            if change.get("field") != "messages" or not value:
                continue
            number_id = _mapping(value.get("metadata")).get("phone_number_id")
            if (
                phone_number_id
                and number_id is not None
                and str(number_id) != str(phone_number_id)
            ):
                continue
            yield value


def events(payload, phone_number_id=None):
    """Messages and receipts in one webhook call (Meta batches several at times)."""
    found = []
    for value in _values(payload, phone_number_id):
        names = _names(value)
        for message in _list(value.get("messages")):
            message = _mapping(message)
            sender, text = message.get("from"), _text(message)
            if (
                isinstance(sender, str)
                and WA_ID.fullmatch(sender)
                and isinstance(text, str)
                and text
            ):
                message_id = message.get("id")
                delivery = (
                    message_id if isinstance(message_id, str) and message_id else None
                )
                found.append(
                    Message(
                        CHANNEL, sender, text[:MAX_TEXT], names.get(sender), delivery
                    )
                )
        for status in _list(value.get("statuses")):
            status = _mapping(status)
            message_id, state = status.get("id"), status.get("status")
            if isinstance(message_id, str) and message_id and state in RECEIPT_STATUSES:
                recipient = status.get("recipient_id")
                found.append(
                    Receipt(
                        message_id,
                        state,
                        recipient if isinstance(recipient, str) else "",
                        _error_code(status),
                    )
                )
    return found


def handshake_challenge(params, verify_token, same_secret):
    """Meta's subscription check: the challenge to echo, or None when it must be refused.

    ``params`` is the query (hub.mode, hub.verify_token, hub.challenge); ``same_secret``
    the constant-time comparison.
    """
    challenge = params.get("hub.challenge")
    if params.get("hub.mode") != "subscribe" or not isinstance(challenge, str):
        return None
    if not challenge or len(challenge) > MAX_CHALLENGE:
        return None
    if not same_secret(params.get("hub.verify_token"), verify_token):
        return None
    return challenge
