"""Making a post of an item: the outbox entry, the recipients snapshot, the hand-over after commit.

Used by the workflow subscriber (first publication) and the editor's actions ("Send
update", "Send again").
"""

from persistent.mapping import PersistentMapping
from plone.uuid.interfaces import IUUID

from collective.messenger.publishing import dispatch
from collective.messenger.publishing.outbox import get_outbox
from collective.messenger.publishing.outbox import SKIPPED
from collective.messenger.publishing.outbox import WAITING
from collective.messenger.publishing.snapshot import plan_post


def make_post(item, kind, lead=""):
    """A new outbox entry for ``item``, handed to Redis after commit; returns the entry.

    ``lead``: the "what is new" line of an update (kept on the entry, so edits keep it).

    First brings Redis in line with the outbox (waiting posts from a time Redis was down,
    recipients the workers reported gone), so the next publication drains the outbox.
    """
    dispatch.drain()
    box = get_outbox()
    uid = IUUID(item)
    plan = plan_post(item, kind, box.next_post_id(uid), lead=lead)
    entry = box.add(uid, kind, plan.post.to_dict(), plan.due)
    if lead:
        entry.lead = lead
    if plan.expired:
        box.set_state(entry, SKIPPED, reason="expired", synced=True)
        return entry
    entry.recipients = PersistentMapping(plan.counts)
    dispatch.after_commit(entry, plan.recipients)
    return entry


def not_gone_out(entry):
    """Scheduled for later, or still waiting for the queue: can be moved, changed, cancelled.

    A "waiting" entry due now may have been handed over already (confirmed by the next
    drain only): then it is going out, and Redis says so.
    """
    return entry.is_open and (entry.is_future or dispatch.live_state(entry) == WAITING)


def open_entries(item):
    return [
        entry for entry in get_outbox().entries_for(IUUID(item)) if not_gone_out(entry)
    ]


def refresh_open_entries(item):
    """After an edit: posts not yet gone out take the new content and effective date."""
    box = get_outbox()
    changed = []
    for entry in open_entries(item):
        plan = plan_post(
            item, entry.kind, entry.post_id, lead=getattr(entry, "lead", "")
        )
        entry.post = PersistentMapping(plan.post.to_dict())
        entry.due = plan.due
        if plan.expired:
            cancel(entry, reason="expired")
        else:
            entry.recipients = PersistentMapping(plan.counts)
            box.mark_synced(entry, False)
            dispatch.after_commit(entry, plan.recipients, notify=False)
        changed.append(entry)
    return changed


def cancel(entry, reason="retracted"):
    box = get_outbox()
    box.set_state(entry, "cancelled", reason=reason, synced=False)
    dispatch.after_commit(entry, ())
