"""What the site offers to citizens: topics, channels and the privacy text, from the control panel."""

import hashlib

from collective.messenger.settings.access import registry_proxy
from collective.messenger.settings.access import settings_document
from collective.messenger.settings.schema import CHANNEL_TITLES
from collective.messenger.settings.validation import parse_topic_lines
from collective.messenger.settings.validation import SettingsError
from messenger_worker.settings import CHANNELS
from messenger_worker.settings import missing_fields

# How a citizen proves the address: a deep link into the messenger (the address arrives with
# the citizen's first message) or a code sent to the phone number they typed.
LINK = "link"
PHONE = "phone"
NEEDS = {"telegram": LINK, "whatsapp": LINK, "signal": PHONE, "threema": PHONE}


def offered_topics():
    """The topics of the control panel: ``[{"id", "title", "description"}]`` in their order."""
    try:
        return parse_topic_lines(registry_proxy().topics)
    except SettingsError:
        # The control panel refuses such lines; a GenericSetup import may not have.
        return []


def topic_titles():
    return {topic["id"]: topic["title"] for topic in offered_topics()}


def offered_channels(document=None):
    """Enabled channels that have what they need to send: ``[{"id", "title", "needs"}]``.

    ``title`` is a translatable message. A channel that is switched on but lacks its bot
    token or number is not offered: its citizens would never get their confirmation.
    """
    document = settings_document() if document is None else document
    offered = []
    for channel in CHANNELS:
        values = document["channels"].get(channel, {})
        if values.get("enabled") and not missing_fields(document, channel):
            offered.append({
                "id": channel,
                "title": CHANNEL_TITLES[channel],
                "needs": NEEDS[channel],
            })
    return offered


def privacy():
    """The privacy text and link shown with the consent checkbox, and the version consent records name.

    The version is a short hash of the text, so a consent record shows which wording the
    citizen agreed to without anyone having to remember to number versions.
    """
    proxy = registry_proxy()
    text = proxy.privacy_text or ""
    return {
        "text": text,
        "url": proxy.privacy_url or "",
        "version": privacy_version(text),
    }


def privacy_version(text):
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:12]


def phone_region():
    return registry_proxy().phone_region or "DE"


def channel_settings(channel):
    """The channel's settings as the workers get them (secrets from the environment win)."""
    return settings_document()["channels"].get(channel, {})
