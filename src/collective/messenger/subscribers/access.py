"""Where the store lives: an annotation of the site, kept when the add-on is uninstalled."""

from plone import api
from zope.annotation.interfaces import IAnnotations

from collective.messenger.settings.validation import parse_topic_lines
from collective.messenger.settings.validation import SettingsError
from collective.messenger.subscribers.store import SubscriberStore

TOPICS_RECORD = "collective.messenger.topics"

ANNOTATION_KEY = "collective.messenger.subscribers"


def get_store(site=None, create=True):
    """The site's ``SubscriberStore``; None if there is none yet and ``create`` is False.

    Create it at install time (the first signups of a fresh site would otherwise all try
    to add it at once and conflict); creating it here is the fallback. A new store comes
    prepared for the configured topics.
    """
    annotations = IAnnotations(site if site is not None else api.portal.get())
    store = annotations.get(ANNOTATION_KEY)
    if store is None and create:
        store = annotations[ANNOTATION_KEY] = SubscriberStore()
        store.prepare(configured_topic_ids())
    return store


def configured_topic_ids():
    """The topic ids from the control panel; none if the records are missing or broken."""
    try:
        lines = api.portal.get_registry_record(TOPICS_RECORD, default=None)
        return [topic["id"] for topic in parse_topic_lines(lines or ())]
    except (SettingsError, api.exc.InvalidParameterError):
        return []
