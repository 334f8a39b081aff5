"""Making a post of an item: the outbox entry, the recipients snapshot, the hand-over after commit.

Used by the workflow subscriber (first publication) and the editor's actions ("Send
update", "Send again").
"""

from persistent.mapping import PersistentMapping
from plone.uuid.interfaces import IUUID

from collective.messenger.publishing import dispatch
from collective.messenger.publishing.outbox import SKIPPED
from collective.messenger.publishing.outbox import WAITING
from collective.messenger.publishing.outbox import get_outbox
from collective.messenger.publishing.snapshot import count_by_channel
from collective.messenger.publishing.snapshot import effective_of
from collective.messenger.publishing.snapshot import expires_of
from collective.messenger.publishing.snapshot import post_for
from collective.messenger.publishing.snapshot import recipients_for
from collective.messenger.publishing.snapshot import topics_of
from collective.messenger.subscribers.clock import utcnow


def due_of(item, now=None):
    """When the post goes out: the effective date if it lies ahead, else now."""
    now = now or utcnow()
    effective = effective_of(item)
    return effective if effective is not None and effective > now else now


def is_expired_at(item, moment):
    expires = expires_of(item)
    return expires is not None and expires <= moment


def make_post(item, kind, lead=""):
    """A new outbox entry for ``item``, handed to Redis after commit; returns the entry.

    ``lead``: the "what is new" line of an update (kept on the entry, so edits keep it).

    First brings Redis in line with the outbox (waiting posts from a time Redis was down,
    recipients the workers reported gone), so the next publication drains the outbox.
    """
    dispatch.drain()
    box = get_outbox()
    uid = IUUID(item)
    post = post_for(item, kind, box.next_post_id(uid), lead=lead)
    due = due_of(item)
    entry = box.add(uid, kind, post.to_dict(), due)
    if lead:
        entry.lead = lead
    if is_expired_at(item, due):
        box.set_state(entry, SKIPPED, reason="expired", synced=True)
        return entry
    recipients = recipients_for(topics_of(item))
    entry.recipients = PersistentMapping(count_by_channel(recipients))
    dispatch.after_commit(entry, recipients)
    return entry


def not_gone_out(entry):
    """Scheduled for later, or still waiting for the queue: can be moved, changed, cancelled.

    A "waiting" entry due now may have been handed over already (confirmed by the next
    drain only): then it is going out, and Redis says so.
    """
    return entry.is_open and (entry.is_future or dispatch.live_state(entry) == WAITING)


def open_entries(item):
    return [entry for entry in get_outbox().entries_for(IUUID(item)) if not_gone_out(entry)]


def refresh_open_entries(item):
    """After an edit: posts not yet gone out take the new content and effective date."""
    box = get_outbox()
    changed = []
    for entry in open_entries(item):
        post = post_for(item, entry.kind, entry.post_id, lead=getattr(entry, "lead", ""))
        entry.post = PersistentMapping(post.to_dict())
        entry.due = due_of(item)
        if is_expired_at(item, entry.due):
            cancel(entry, reason="expired")
        else:
            recipients = recipients_for(topics_of(item))
            entry.recipients = PersistentMapping(count_by_channel(recipients))
            box.mark_synced(entry, False)
            dispatch.after_commit(entry, recipients, notify=False)
        changed.append(entry)
    return changed


def cancel(entry, reason="retracted"):
    box = get_outbox()
    box.set_state(entry, "cancelled", reason=reason, synced=False)
    dispatch.after_commit(entry, ())
