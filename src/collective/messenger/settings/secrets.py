"""Channel secrets, kept out of the registry.

Registry records can be read by every Site Administrator through ``@registry`` and the
registry editor. Tokens and app secrets therefore live in an annotation on the site, reached
only through this module; a value in the process environment (see
``messenger_worker.settings.secret_variable``) wins over the stored one.
"""

from persistent.mapping import PersistentMapping
from plone import api
from zope.annotation.interfaces import IAnnotations
from zope.event import notify
from zope.interface import implementer
from zope.interface import Interface

from messenger_worker.settings import secret_from_environment

ANNOTATION_KEY = "collective.messenger.secrets"


class ISecretModifiedEvent(Interface):
    """A channel secret was stored or removed (its value is not part of the event)."""


@implementer(ISecretModifiedEvent)
class SecretModifiedEvent:
    def __init__(self, name):
        self.name = name


def _split(name):
    channel, field = name.split("_", 1)
    return channel, field


class SecretStore:
    """Read and write the channel secrets of one site."""

    def __init__(self, site=None):
        self.site = site if site is not None else api.portal.get()

    def _mapping(self, create=False):
        annotations = IAnnotations(self.site)
        mapping = annotations.get(ANNOTATION_KEY)
        if mapping is None:
            if not create:
                return {}
            mapping = annotations[ANNOTATION_KEY] = PersistentMapping()
        return mapping

    def stored(self, name):
        return self._mapping().get(name) or None

    def from_environment(self, name):
        return secret_from_environment(*_split(name))

    def get(self, name):
        """The effective secret: environment first, then the stored value."""
        return self.from_environment(name) or self.stored(name)

    def set(self, name, value):
        mapping = self._mapping(create=True)
        if value:
            mapping[name] = value
        else:
            mapping.pop(name, None)
        notify(SecretModifiedEvent(name))

    def clear(self):
        IAnnotations(self.site).pop(ANNOTATION_KEY, None)
