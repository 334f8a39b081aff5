"""The messenger status of one item: its posts, and what publishing it would do.

Read-only, for the viewlet and ``GET @messenger-status``: a GET must not write, so the outbox
and the subscriber store are only read, never created here.
"""

from plone.uuid.interfaces import IUUID
from zope.i18n import translate

from collective.messenger.browser.status_labels import channel_title
from collective.messenger.browser.status_labels import kind_title
from collective.messenger.browser.status_labels import reason_title
from collective.messenger.browser.status_labels import state_key
from collective.messenger.browser.status_labels import state_title
from collective.messenger.browser.status_posts import posts_status
from collective.messenger.publishing.events import is_public
from collective.messenger.publishing.outbox import get_outbox
from collective.messenger.publishing.snapshot import effective_of
from collective.messenger.publishing.snapshot import recipient_counts
from collective.messenger.publishing.snapshot import topics_of
from collective.messenger.signup import offer
from collective.messenger.subscribers import get_store
from collective.messenger.subscribers.clock import utcnow


def item_entries(item):
    box = get_outbox(create=False)  # a page that reads must not write
    return box.entries_for(IUUID(item)) if box is not None else []


def labelled(status, request):
    """A post status with the words a person reads, in the request's language."""
    return {
        **status,
        "kind_label": translate(kind_title(status["kind"]), context=request),
        "state_key": state_key(status),
        "state_label": translate(state_title(status), context=request),
        "reason_label": translate(reason_title(status["reason"]), context=request)
        if status["reason"]
        else "",
    }


def item_posts(item, request):
    """The item's posts, oldest first, with live state and counters."""
    return [labelled(status, request) for status in posts_status(item_entries(item))]


def upcoming(item, request):
    """What publishing would do now: topics, recipients per channel, when.

    Counting the recipients reads the store's topic indexes, so it is done for items not
    sent yet only, not on every poll of an item that is sending.
    """
    topics = topics_of(item)
    titles = offer.topic_titles()
    counts = (
        recipient_counts(item) if topics and get_store(create=False) is not None else {}
    )
    effective = effective_of(item)
    return {
        "send_on_publish": bool(getattr(item, "messenger_send", True)),
        "topics": [
            {"id": topic, "title": titles.get(topic, topic)} for topic in topics
        ],
        "recipients": {
            channel: {"count": count, "title": channel_title(channel, request)}
            for channel, count in sorted(counts.items())
        },
        "recipients_total": sum(counts.values()),
        "effective": effective.isoformat(timespec="seconds")
        if effective is not None and effective > utcnow()
        else None,
    }


def item_status(item, request):
    """The answer of ``GET @messenger-status``."""
    posts = item_posts(item, request)
    return {
        "posts": posts,
        "public": is_public(item),
        "upcoming": None if posts else upcoming(item, request),
        # Poll while some post can still change soon (the viewlet's script does).
        "active": any(post["active"] for post in posts),
        "waiting": any(post["state"] == "waiting" for post in posts),
    }
