"""Workflow and edit events of items with the messenger behavior."""

from plone import api
from plone.uuid.interfaces import IUUID

from collective.messenger.publishing import posts
from collective.messenger.publishing.outbox import CANCELLED
from collective.messenger.publishing.outbox import get_outbox
from collective.messenger.publishing.outbox import INITIAL
from collective.messenger.publishing.outbox import SKIPPED
from collective.messenger.publishing.snapshot import wants_sending
from collective.messenger.settings.access import registry_proxy


def public_states():
    return set(registry_proxy().public_states or ("published",))


def is_public(item):
    return api.content.get_state(item, default=None) in public_states()


def was_sent_before(item):
    """An initial post exists that was not taken back: publishing again sends nothing."""
    return any(
        entry.kind == INITIAL and entry.state not in (CANCELLED, SKIPPED)
        for entry in get_outbox().entries_for(IUUID(item))
    )


def transitioned(item, event):
    """IAfterTransitionEvent: the first entry into a public state makes the post."""
    if event.old_state is None or event.new_state is None:
        return
    public = public_states()
    entering = event.new_state.id in public and event.old_state.id not in public
    leaving = event.old_state.id in public and event.new_state.id not in public
    if entering and wants_sending(item) and not was_sent_before(item):
        posts.make_post(item, INITIAL)
    elif leaving:
        for entry in posts.open_entries(item):
            posts.cancel(entry)


def modified(item, event):
    """IObjectModifiedEvent: a published item's post that has not gone out follows the edit."""
    if is_public(item):
        posts.refresh_open_entries(item)
