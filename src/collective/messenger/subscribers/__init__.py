"""Subscribers: who follows which topics on which messenger, stored in the ZODB.

``get_store()`` returns the site's ``SubscriberStore``; see README.md in this folder for the
data model, the API and the rules that keep the indexes consistent.
"""

from collective.messenger.subscribers.access import get_store
from collective.messenger.subscribers.codes import CodeCheck
from collective.messenger.subscribers.model import Consent
from collective.messenger.subscribers.model import Subscriber
from collective.messenger.subscribers.store import SubscriberError
from collective.messenger.subscribers.store import SubscriberStore

__all__ = [
    "CodeCheck",
    "Consent",
    "Subscriber",
    "SubscriberError",
    "SubscriberStore",
    "get_store",
]
