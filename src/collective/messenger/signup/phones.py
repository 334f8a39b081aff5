"""Phone numbers (and Threema IDs) typed by citizens, normalised to what the store and channels use."""

import re

import phonenumbers

from collective.messenger import _
from collective.messenger.errors import MessageError

THREEMA_ID = re.compile(r"^[A-Z0-9*][A-Z0-9]{7}$")
MAX_INPUT_LENGTH = 40


class PhoneInvalid(MessageError):
    """Not a number (or Threema ID) the channel can use; ``message`` says why."""


def normalise_phone(value, region="DE", channel="signal"):
    """``value`` as E.164 (``+4915112345678``); for Threema also an 8-character Threema ID.

    ``region`` is used for numbers typed without country code (``0151 1234567``).
    Raises ``PhoneInvalid`` with a message for the citizen.
    """
    value = (value or "").strip()
    if not value:
        raise PhoneInvalid(
            _("error_phone_missing", default="Please enter your mobile number.")
        )
    if len(value) > MAX_INPUT_LENGTH:
        raise PhoneInvalid(
            _(
                "error_phone_invalid",
                default="This is not a valid mobile number. "
                "Enter it like 0151 12345678 or +49 151 12345678.",
            )
        )
    if (
        channel == "threema"
        and THREEMA_ID.match(value.upper())
        and not value.startswith("+")
    ):
        return value.upper()
    try:
        number = phonenumbers.parse(value, region or "DE")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise PhoneInvalid(
            _(
                "error_phone_invalid",
                default="This is not a valid mobile number. "
                "Enter it like 0151 12345678 or +49 151 12345678.",
            )
        )
    if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE:
        raise PhoneInvalid(
            _(
                "error_phone_landline",
                default="This looks like a landline number. "
                "Please enter the mobile number you use for the messenger.",
            )
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_address(channel, address):
    """An address as people may see it on pages for the subscriber: enough to recognise, not to read.

    ``+49 151 ••• 89`` for numbers, ``EC••••K8`` for Threema IDs, nothing for chat ids.
    """
    if not address or channel == "telegram":
        return ""
    if channel == "whatsapp" and address.isdigit():
        address = "+" + address  # a wa_id is the number without "+"
    if address.startswith("+"):
        try:
            number = phonenumbers.parse(address, None)
            international = phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
            )
            parts = international.split(" ")
            return " ".join(parts[:2]) + " ••• " + address[-2:]
        except phonenumbers.NumberParseException:
            return address[:3] + " ••• " + address[-2:]
    return address[:2] + "••••" + address[-2:]
