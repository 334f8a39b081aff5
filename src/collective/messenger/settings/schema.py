"""The Messenger control panel schema.

One interface holds every setting so that the form, the REST control panel and the settings
document for the workers share one definition. Secrets (``SECRET_FIELD_NAMES``) are part of
the schema but not of the registry: they live in ``secrets.SecretStore``, where neither the
registry UI nor ``@registry`` can show them.
"""

from plone.autoform import directives
from plone.supermodel import model
from plone.z3cform.textlines import TextLinesFieldWidget
from zope import schema

from collective.messenger import _
from collective.messenger.settings import validation
from messenger_worker.settings import SECRET_FIELDS

REGISTRY_PREFIX = "collective.messenger"

SECRET_FIELD_NAMES = tuple(
    f"{channel}_{field}"
    for channel, fields in SECRET_FIELDS.items()
    for field in fields
)

CHANNEL_TITLES = {
    "telegram": _("Telegram"),
    "whatsapp": _("WhatsApp"),
    "signal": _("Signal"),
    "threema": _("Threema"),
}

RATE_HELP = _("Messages per second that the platform accepts from this sender account.")
API_URL_HELP = _(
    "api_url_help",
    default="Change only to use a test server or the sandbox. The channel's token is sent "
    "there: only a Manager may choose another host than the platform's own or this machine.",
)


def _codes_per_day():
    # Read by signup.ratelimit.take_code_budget; Threema charges per message.
    return schema.Int(
        title=_("codes_per_day_title", default="Confirmation codes per day"),
        description=_(
            "codes_per_day_help",
            default="At most this many confirmation codes are sent each day (in the site's "
            "time zone), on top of the limits per number and per connection. When they are "
            "used up, code signups are refused politely until midnight. 0 means no limit.",
        ),
        default=500,
        min=0,
        max=1000000,
        required=False,
    )


def _rate(default):
    return schema.Float(
        title=_("Send rate"),
        description=RATE_HELP,
        default=default,
        min=0.01,
        max=10000.0,
    )


def _secret(title, description="", constraint=None):
    return schema.Password(
        title=title,
        description=_(
            "secret_help",
            default="${help} Stored values are never shown; leave empty to keep the "
            "stored value.",
            mapping={"help": description},
        ),
        required=False,
        constraint=constraint,
    )


def _template(title, default):
    return schema.Text(
        title=title,
        description=_(
            "template_help",
            default="Placeholders: {title}, {teaser}, {url}, {start}, {end}, {location}.",
        ),
        default=default,
        constraint=validation.check_template,
    )


class IMessengerSettings(model.Schema):
    """Channels, topics, message templates and privacy settings of the messenger service."""

    model.fieldset(
        "telegram",
        label=CHANNEL_TITLES["telegram"],
        fields=[
            "telegram_enabled",
            "telegram_bot_username",
            "telegram_bot_token",
            "telegram_webhook_secret",
            "telegram_rate",
            "telegram_api_url",
        ],
    )
    telegram_enabled = schema.Bool(
        title=_("Offer Telegram"), default=False, required=False
    )
    telegram_bot_username = schema.TextLine(
        title=_("Bot username"),
        description=_("The bot's name from BotFather, without @, used in t.me links."),
        required=False,
        constraint=validation.check_bot_username,
    )
    telegram_bot_token = _secret(_("Bot token"), _("The token BotFather gave you."))
    telegram_webhook_secret = _secret(
        _("Webhook secret"),
        _(
            "Telegram sends it with every webhook call; the site rejects calls without it."
        ),
        constraint=validation.check_webhook_secret,
    )
    telegram_rate = _rate(30.0)
    telegram_api_url = schema.URI(
        title=_("API base URL"),
        description=API_URL_HELP,
        default="https://api.telegram.org",
    )

    model.fieldset(
        "whatsapp",
        label=CHANNEL_TITLES["whatsapp"],
        fields=[
            "whatsapp_enabled",
            "whatsapp_phone_number_id",
            "whatsapp_business_number",
            "whatsapp_access_token",
            "whatsapp_app_secret",
            "whatsapp_verify_token",
            "whatsapp_template_name",
            "whatsapp_image_template_name",
            "whatsapp_template_language",
            "whatsapp_api_version",
            "whatsapp_rate",
            "whatsapp_api_url",
        ],
    )
    whatsapp_enabled = schema.Bool(
        title=_("Offer WhatsApp"), default=False, required=False
    )
    whatsapp_phone_number_id = schema.TextLine(
        title=_("Phone number ID"),
        description=_("From the WhatsApp Manager (digits only)."),
        required=False,
        constraint=validation.check_digits,
    )
    whatsapp_business_number = schema.TextLine(
        title=_("Business phone number"),
        description=_(
            "The number citizens write to, in international format; used in wa.me links."
        ),
        required=False,
        constraint=validation.check_phone_number,
    )
    whatsapp_access_token = _secret(
        _("Access token"), _("A permanent system user token.")
    )
    whatsapp_app_secret = _secret(
        _("App secret"), _("Used to check the signature of incoming webhooks.")
    )
    whatsapp_verify_token = _secret(
        _("Webhook verify token"),
        _("The token you entered when subscribing the webhook."),
    )
    whatsapp_template_name = schema.TextLine(
        title=_("Broadcast template name"),
        description=_(
            "whatsapp_template_name_help",
            default="An approved message template without header, used for posts to subscribers.",
        ),
        required=False,
        constraint=validation.check_whatsapp_template_name,
    )
    whatsapp_image_template_name = schema.TextLine(
        title=_(
            "whatsapp_image_template_name", default="Template for posts with an image"
        ),
        description=_(
            "whatsapp_image_template_name_help",
            default="Optional: an approved template with an image header, in the same language. "
            "Posts with a lead image go out with it and show the image at the top; without it "
            "they go out as the broadcast template, which then must have no header, and the "
            "image is left out.",
        ),
        required=False,
        constraint=validation.check_whatsapp_template_name,
    )
    whatsapp_template_language = schema.TextLine(
        title=_("Broadcast template language"), default="de", required=False
    )
    whatsapp_api_version = schema.TextLine(
        title=_("Graph API version"),
        default="v23.0",
        constraint=validation.check_graph_api_version,
    )
    whatsapp_rate = _rate(80.0)
    whatsapp_api_url = schema.URI(
        title=_("API base URL"),
        description=API_URL_HELP,
        default="https://graph.facebook.com",
    )

    model.fieldset(
        "signal",
        label=CHANNEL_TITLES["signal"],
        fields=[
            "signal_enabled",
            "signal_sender_number",
            "signal_webhook_secret",
            "signal_rate",
            "signal_codes_per_day",
            "signal_api_url",
        ],
    )
    signal_enabled = schema.Bool(title=_("Offer Signal"), default=False, required=False)
    signal_sender_number = schema.TextLine(
        title=_("Sender number"),
        description=_(
            "The number registered in signal-cli-rest-api, in international format."
        ),
        required=False,
        constraint=validation.check_phone_number,
    )
    signal_webhook_secret = _secret(
        _("Receive secret"),
        _(
            "Part of the address signal-cli-rest-api posts incoming messages to: "
            "<site>/@messenger-webhook/signal/<secret>. Use at least 32 random characters."
        ),
        constraint=validation.check_webhook_secret,
    )
    signal_rate = _rate(1.0)
    signal_codes_per_day = _codes_per_day()
    signal_api_url = schema.URI(
        title=_("signal-cli-rest-api base URL"),
        description=_(
            "signal_api_url_help",
            default="Where your signal-cli-rest-api service answers. Only a Manager may "
            "choose another host than this machine (localhost).",
        ),
        default="http://localhost:8080",
    )

    model.fieldset(
        "threema",
        label=CHANNEL_TITLES["threema"],
        fields=[
            "threema_enabled",
            "threema_gateway_id",
            "threema_api_secret",
            "threema_rate",
            "threema_codes_per_day",
            "threema_api_url",
        ],
    )
    threema_enabled = schema.Bool(
        title=_("Offer Threema"), default=False, required=False
    )
    threema_gateway_id = schema.TextLine(
        title=_("Gateway ID"),
        description=_("Your Threema Gateway ID, for example *MUSTER1."),
        required=False,
        constraint=validation.check_threema_gateway_id,
    )
    threema_api_secret = _secret(_("API secret"), _("The secret of your Gateway ID."))
    threema_rate = _rate(10.0)
    threema_codes_per_day = _codes_per_day()
    threema_api_url = schema.URI(
        title=_("API base URL"),
        description=API_URL_HELP,
        default="https://msgapi.threema.ch",
    )

    model.fieldset("topics", label=_("Topics"), fields=["topics"])
    directives.widget("topics", TextLinesFieldWidget)
    topics = schema.List(
        title=_("Topics"),
        description=_(
            "topics_help",
            default="One topic per line, in the order citizens see them: "
            "id | Title | Description. The id is a short name in lower-case letters, "
            "digits and hyphens; do not change it once people have subscribed.",
        ),
        value_type=schema.TextLine(),
        default=[],
        required=False,
        constraint=validation.check_topics,
    )

    model.fieldset(
        "templates",
        label=_("Message templates"),
        fields=["template_news", "template_event", "template_construction_notice"],
    )
    template_news = _template(_("News"), "{title}\n\n{teaser}\n\n{url}")
    template_event = _template(
        _("Events"), "{title}\n{start} - {end}, {location}\n\n{teaser}\n\n{url}"
    )
    template_construction_notice = _template(
        _("Construction notices"),
        "{title}\n{location}\n{start} - {end}\n\n{teaser}\n\n{url}",
    )

    model.fieldset("publishing", label=_("Publishing"), fields=["public_states"])
    public_states = schema.List(
        title=_("Public workflow states"),
        description=_(
            "An item goes out to its subscribers the first time it enters one of these "
            "workflow states (one state id per line)."
        ),
        value_type=schema.TextLine(),
        default=["published"],
        required=True,
        min_length=1,
    )

    model.fieldset(
        "privacy",
        label=_("Privacy"),
        fields=["privacy_text", "privacy_url", "phone_region", "erase_after_days"],
    )
    privacy_text = schema.Text(
        title=_("Privacy notice"),
        description=_("Shown next to the consent checkbox when citizens subscribe."),
        default="",
        required=False,
    )
    privacy_url = schema.TextLine(
        title=_("Privacy page"),
        description=_(
            "Link to the site's privacy page: a full address or a path like /privacy."
        ),
        required=False,
        constraint=validation.check_privacy_url,
    )
    phone_region = schema.TextLine(
        title=_("Default country for phone numbers"),
        description=_(
            "Numbers entered without a country code are read as from this country."
        ),
        default="DE",
        constraint=validation.check_phone_region,
    )
    erase_after_days = schema.Int(
        title=_(
            "erase_after_days_title", default="Erase addresses after leaving (days)"
        ),
        description=_(
            "erase_after_days_help",
            default="When citizens unsubscribe or block the messenger, their number or ID is "
            "kept this many days (to answer questions), then erased; only counts remain. "
            "0 erases within the hour. The privacy notice must name the same number of days.",
        ),
        default=30,
        min=0,
        max=365,
    )
