"""Field checks for the settings, with messages an admin understands.

``SettingsError`` carries a translatable message; both the classic form (z3c.form error
snippets) and plone.restapi (``ValidationError.doc()``) show it as is.
"""

import re
import string

import phonenumbers
from zope.i18nmessageid import Message
from zope.schema import ValidationError

from collective.messenger import _

TOPIC_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TOPIC_ID_MAX_LENGTH = 40
TEMPLATE_PLACEHOLDERS = ("title", "teaser", "url", "start", "end", "location")
BOT_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,30}[Bb][Oo][Tt]$")
THREEMA_GATEWAY_ID = re.compile(r"^\*[A-Z0-9]{7}$")
WHATSAPP_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
GRAPH_API_VERSION = re.compile(r"^v\d{1,3}\.\d{1,2}$")
DIGITS = re.compile(r"^\d{5,30}$")
WEBHOOK_SECRET_MIN_LENGTH = 32
# Telegram accepts these in secret_token; they also stay as they are in a URL path (Signal).
WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class SettingsError(ValidationError):
    """A settings value is wrong; ``doc()`` is the message shown next to the field."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def doc(self):
        return self.message


def parse_topic_lines(lines):
    """Topics from control panel lines "id | Title | Description", in order.

    Raises SettingsError naming the first wrong line or the repeated id.
    """
    topics = []
    seen = set()
    for number, line in enumerate(lines or (), start=1):
        if not line or not line.strip():
            continue
        parts = [part.strip() for part in line.split("|", 2)]
        topic_id = parts[0]
        title = parts[1] if len(parts) > 1 else ""
        description = parts[2] if len(parts) > 2 else ""
        if not TOPIC_ID.match(topic_id) or len(topic_id) > TOPIC_ID_MAX_LENGTH:
            raise SettingsError(
                _(
                    "error_topic_id",
                    default='Line ${line}: "${id}" is not a valid topic id. Use lower-case '
                    "letters, digits and hyphens (at most 40), for example "
                    '"freibad" or "baustellen-verkehr".',
                    mapping={"line": number, "id": topic_id},
                )
            )
        if not title:
            raise SettingsError(
                _(
                    "error_topic_title",
                    default='Line ${line}: the topic "${id}" needs a title. Write '
                    '"id | Title | Description".',
                    mapping={"line": number, "id": topic_id},
                )
            )
        if topic_id in seen:
            raise SettingsError(
                _(
                    "error_topic_duplicate",
                    default='The topic id "${id}" is used more than once. Every topic '
                    "needs its own id.",
                    mapping={"id": topic_id},
                )
            )
        seen.add(topic_id)
        topics.append({"id": topic_id, "title": title, "description": description})
    return topics


def check_topics(lines):
    parse_topic_lines(lines)
    return True


def check_template(text):
    allowed = ", ".join("{%s}" % name for name in TEMPLATE_PLACEHOLDERS)
    try:
        fields = [
            field
            for _literal, field, _spec, _conv in string.Formatter().parse(text or "")
        ]
    except ValueError:
        raise SettingsError(
            _(
                "error_template_brace",
                default='The template has an unmatched "{" or "}". Placeholders look like '
                "{title}; write {{ or }} for a literal brace.",
            )
        )
    for field in fields:
        if field is not None and field not in TEMPLATE_PLACEHOLDERS:
            raise SettingsError(
                _(
                    "error_template_placeholder",
                    default="Unknown placeholder {${name}}. Allowed placeholders: ${allowed}.",
                    mapping={"name": field, "allowed": allowed},
                )
            )
    return True


def check_phone_number(value):
    """An international phone number such as +49 170 1234567."""
    if not value:
        return True
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise SettingsError(
            _(
                "error_phone_number",
                default='"${value}" is not a valid phone number in international format. '
                "Write it with the country code, for example +49 170 1234567.",
                mapping={"value": value},
            )
        )
    return True


def check_phone_region(value):
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise SettingsError(
            _(
                "error_phone_region",
                default='"${value}" is not a country code. Use two capital letters, for '
                "example DE, AT or CH.",
                mapping={"value": value},
            )
        )
    return True


def _pattern_check(pattern, message):
    def check(value):
        if value and not pattern.match(value):
            raise SettingsError(Message(message, mapping={"value": value}))
        return True

    return check


check_bot_username = _pattern_check(
    BOT_USERNAME,
    _(
        "error_bot_username",
        default='"${value}" is not a Telegram bot username. It has 5 to 32 letters, digits '
        'or underscores and ends in "bot", for example "musterstadt_bot" (without @).',
    ),
)
check_threema_gateway_id = _pattern_check(
    THREEMA_GATEWAY_ID,
    _(
        "error_threema_id",
        default='"${value}" is not a Threema Gateway ID. It starts with "*" followed by 7 '
        'capital letters or digits, for example "*MUSTER1".',
    ),
)
check_whatsapp_template_name = _pattern_check(
    WHATSAPP_TEMPLATE_NAME,
    _(
        "error_whatsapp_template",
        default='"${value}" is not a WhatsApp template name. Template names use lower-case '
        "letters, digits and underscores.",
    ),
)
check_graph_api_version = _pattern_check(
    GRAPH_API_VERSION,
    _(
        "error_graph_version",
        default='"${value}" is not a Graph API version. Write it like "v23.0".',
    ),
)
check_digits = _pattern_check(
    DIGITS,
    _(
        "error_digits",
        default='"${value}" is not an id from the WhatsApp Manager: it consists of digits only.',
    ),
)


def check_privacy_url(value):
    if value and not (value.startswith(("https://", "http://", "/"))):
        raise SettingsError(
            _(
                "error_privacy_url",
                default='"${value}" is not a link. Enter a full address starting with '
                'https:// or a path on this site starting with "/", for example /datenschutz.',
                mapping={"value": value},
            )
        )
    return True


def check_webhook_secret(value):
    """A secret that authenticates webhook calls: long enough not to be guessed."""
    if not value:
        return True
    if len(value) < WEBHOOK_SECRET_MIN_LENGTH:
        raise SettingsError(
            _(
                "error_webhook_secret_short",
                default="The secret has ${length} characters; use at least ${minimum}. "
                "Whoever guesses it can send the site messages in the name of any "
                "citizen, and short secrets are guessed. Generate one, for example with "
                '"openssl rand -hex 24".',
                mapping={"length": len(value), "minimum": WEBHOOK_SECRET_MIN_LENGTH},
            )
        )
    if not WEBHOOK_SECRET.match(value):
        raise SettingsError(
            _(
                "error_webhook_secret_characters",
                default='Use only letters, digits, "_" and "-" in the secret, at most '
                "256: Telegram accepts no others, and the Signal secret is part of an address.",
            )
        )
    return True
