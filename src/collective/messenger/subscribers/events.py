"""Keep the subscriber store ready for the configured topics."""

from collective.messenger.subscribers.access import configured_topic_ids
from collective.messenger.subscribers.access import get_store
from collective.messenger.subscribers.access import TOPICS_RECORD


def topics_changed(event):
    """Subscriber: new topics get their index sets now, not in the first burst of signups."""
    record = getattr(event, "record", None)
    if record is None or record.__name__ != TOPICS_RECORD:
        return
    store = get_store(create=False)
    if store is not None:
        store.prepare(configured_topic_ids())
