"""One object for all settings, and the document the workers receive."""

from plone import api
from plone.registry.interfaces import IRegistry
from zope.component import getUtility
from zope.interface import implementer
from zope.schema import getFieldNamesInOrder

from collective.messenger.settings.schema import IMessengerSettings
from collective.messenger.settings.schema import REGISTRY_PREFIX
from collective.messenger.settings.schema import SECRET_FIELD_NAMES
from collective.messenger.settings.secrets import SecretStore
from collective.messenger.settings.validation import parse_topic_lines
from messenger_worker.settings import CHANNELS
from messenger_worker.settings import PLONE_ONLY_SECRETS
from messenger_worker.settings import SETTINGS_SCHEMA

TEMPLATE_PREFIX = "template_"


def registry_proxy():
    return getUtility(IRegistry).forInterface(
        IMessengerSettings, prefix=REGISTRY_PREFIX, omit=SECRET_FIELD_NAMES, check=False
    )


@implementer(IMessengerSettings)
class MessengerSettings:
    """Registry records and stored secrets behind the attributes of ``IMessengerSettings``.

    The control panel form and the REST control panel edit this object. Reading a secret
    gives the stored value only (never the environment's): it is what the forms manage.
    """

    def __init__(self, site=None):
        object.__setattr__(self, "_proxy", registry_proxy())
        object.__setattr__(self, "_secrets", SecretStore(site))

    def __getattr__(self, name):
        if name in SECRET_FIELD_NAMES:
            return self._secrets.stored(name)
        return getattr(self._proxy, name)

    def __setattr__(self, name, value):
        if name in SECRET_FIELD_NAMES:
            self._secrets.set(name, value)
        else:
            setattr(self._proxy, name, value)


def settings_document(site=None, environment_secrets=True):
    """The settings as one document (see worker/README.md), secrets included.

    With ``environment_secrets`` (for this process: webhooks, previews) a secret from this
    process's environment wins over the stored one; without, only stored secrets appear.
    """
    proxy = registry_proxy()
    secrets = SecretStore(site)
    secret = secrets.get if environment_secrets else secrets.stored
    channels = {channel: {} for channel in CHANNELS}
    templates = {}
    for name in getFieldNamesInOrder(IMessengerSettings):
        channel, _sep, key = name.partition("_")
        if channel in channels:
            value = secret(name) if name in SECRET_FIELD_NAMES else getattr(proxy, name)
            channels[channel][key] = value
        elif name.startswith(TEMPLATE_PREFIX):
            templates[name[len(TEMPLATE_PREFIX) :]] = getattr(proxy, name)
    return {
        "schema": SETTINGS_SCHEMA,
        "channels": channels,
        "topics": parse_topic_lines(proxy.topics),
        "templates": templates,
        "phone_region": proxy.phone_region,
    }


def worker_document(site=None):
    """The document published to Redis for the workers.

    Secrets from Zope's environment stay out of it (``null``): whoever can read Redis must
    not learn them, and each worker reads the same variables from its own environment. So
    do the webhook secrets, which only Plone uses. The other secrets stored in the site do
    travel through Redis: the workers have no other way to get them.
    """
    document = settings_document(site, environment_secrets=False)
    for channel, fields in PLONE_ONLY_SECRETS.items():
        for field in fields:
            document["channels"][channel][field] = None
    return document


def may_read_secrets():
    """Only Managers see secret values and decide where secrets are sent."""
    return "Manager" in api.user.get_roles()
