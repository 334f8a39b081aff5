"""Subscribers: who follows which topics on which messenger, stored in the ZODB.

``get_store()`` returns the site's ``SubscriberStore``; see README.md in this folder for the
data model, the API and the rules that keep the indexes consistent.
"""

from collective.messenger.subscribers.access import get_store  # noqa: F401
from collective.messenger.subscribers.codes import CodeCheck  # noqa: F401
from collective.messenger.subscribers.model import Consent  # noqa: F401
from collective.messenger.subscribers.model import Subscriber  # noqa: F401
from collective.messenger.subscribers.store import SubscriberError  # noqa: F401
from collective.messenger.subscribers.store import SubscriberStore  # noqa: F401
