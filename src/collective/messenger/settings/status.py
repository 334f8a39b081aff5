"""What admins see above the Messenger control panel: delivery side health and channel state."""

from zope.i18n import translate
from zope.schema import getFields

from collective.messenger.redis_client import get_redis
from collective.messenger.settings.access import settings_document
from collective.messenger.settings.access import worker_document
from collective.messenger.settings.schema import CHANNEL_TITLES
from collective.messenger.settings.schema import IMessengerSettings
from collective.messenger.settings.validation import check_webhook_secret
from collective.messenger.settings.validation import WEBHOOK_SECRET_MIN_LENGTH
from messenger_worker import health
from messenger_worker.settings import CHANNELS
from messenger_worker.settings import digest
from messenger_worker.settings import missing_fields

WEBHOOK_SECRET_FIELDS = frozenset(
    name
    for name, field in getFields(IMessengerSettings).items()
    if field.constraint is check_webhook_secret
)


def delivery_health():
    """Redis, queues, workers, and whether the workers have the current settings."""
    state = health.collect(get_redis())
    if state["reachable"]:
        state["settings_current"] = state["settings_digest"] == digest(
            worker_document()
        )
    return state


def weak_webhook_secrets(document, channel):
    """Names of ``channel``'s webhook secrets, set (stored by an older version or in the
    environment) but shorter than the form accepts today: they work, and should be replaced."""
    values = document["channels"][channel]
    return [
        name
        for name in values
        if f"{channel}_{name}" in WEBHOOK_SECRET_FIELDS
        and values[name]
        and len(values[name]) < WEBHOOK_SECRET_MIN_LENGTH
    ]


def channel_states(request):
    """Per channel: enabled, rate, the titles of settings it still lacks to send, and of
    webhook secrets too short to be safe."""
    document = settings_document()
    fields = getFields(IMessengerSettings)
    states = []
    for channel in CHANNELS:
        values = document["channels"][channel]
        missing = [
            translate(fields[f"{channel}_{name}"].title, context=request)
            for name in missing_fields(document, channel)
        ]
        states.append({
            "id": channel,
            "title": translate(CHANNEL_TITLES[channel], context=request),
            "enabled": bool(values.get("enabled")),
            "rate": values.get("rate"),
            "missing": missing,
            "weak": [
                translate(fields[f"{channel}_{name}"].title, context=request)
                for name in weak_webhook_secrets(document, channel)
            ],
        })
    return states
