"""Find the records of one person by the exact address an admin types (GDPR access and erasure).

The address is normalised the way signups store it, so "0151 1234 5678" finds the Signal
subscriber stored as "+4915112345678". Pending Signal and Threema signups carry their
number too and are found as well; pending Telegram and WhatsApp signups have no address
yet (it arrives with the citizen's /start) and expire after 24 hours.
"""

import re

from collective.messenger import _
from collective.messenger.errors import MessageError
from collective.messenger.signup.phones import normalise_phone
from collective.messenger.signup.phones import PhoneInvalid
from collective.messenger.subscribers.model import ADDRESS_PROVEN_BY_CODE
from collective.messenger.subscribers.model import CHANNELS

TELEGRAM_CHAT_ID = re.compile(r"^-?\d{1,20}$")
MAX_INPUT_LENGTH = 64


class LookupInvalid(MessageError):
    """The admin's input is not an address of that channel; ``message`` says why."""


def lookup_keys(channel, value, region):
    """The addresses to look up for ``value`` typed by an admin, in stored form.

    WhatsApp stores the wa_id from the webhook (digits without "+"); both spellings are
    tried, so a record stored either way is found.
    """
    if channel not in CHANNELS:
        raise LookupInvalid(
            _("error_lookup_channel", default="Please choose a messenger.")
        )
    value = (value or "").strip()
    if not value:
        raise LookupInvalid(_("error_lookup_empty", default="Please enter an address."))
    if len(value) > MAX_INPUT_LENGTH:
        raise LookupInvalid(_("error_lookup_long", default="This address is too long."))
    if channel == "telegram":
        if not TELEGRAM_CHAT_ID.match(value):
            raise LookupInvalid(
                _(
                    "error_lookup_chat_id",
                    default="A Telegram address is the chat id, a number such as 123456789.",
                )
            )
        return [value]
    try:
        address = normalise_phone(value, region, channel)
    except PhoneInvalid as error:
        raise LookupInvalid(error.message)
    if channel == "whatsapp":
        return [address.lstrip("+"), address]
    return [address]


def find_subscribers(store, channel, keys):
    """Every record of this person on ``channel``: the one past pending, then pending ones."""
    found = []
    for key in keys:
        subscriber = store.by_address(channel, key)
        if subscriber is not None and subscriber not in found:
            found.append(subscriber)
    if channel in ADDRESS_PROVEN_BY_CODE:
        found.extend(
            s
            for s in pending_signups(store)
            if s.channel == channel and s.address in keys
        )
    return found


def pending_signups(store):
    """All pending records: few, since they expire after a day; no index by address needed."""
    return store.pending()
