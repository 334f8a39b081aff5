"""The editor's actions on a published item: "Send update", "Send again", and for a post
that is only scheduled, "Send now" and "Cancel sending"."""

from persistent.mapping import PersistentMapping
from plone.uuid.interfaces import IUUID

from collective.messenger import _
from collective.messenger.errors import MessageError
from collective.messenger.publishing import dispatch
from collective.messenger.publishing import posts
from collective.messenger.publishing.events import is_public
from collective.messenger.publishing.outbox import AGAIN
from collective.messenger.publishing.outbox import get_outbox
from collective.messenger.publishing.outbox import UPDATE
from collective.messenger.publishing.outbox import WAITING
from collective.messenger.publishing.snapshot import plan_post
from collective.messenger.publishing.snapshot import topics_of
from collective.messenger.subscribers.clock import utcnow

# "What is new" leads an update: one line, short enough for a phone's lock screen and to
# leave room for the teaser in WhatsApp's template body (1024 characters in all).
LEAD_LIMIT = 200


class SendRefused(MessageError):
    """The editor's send action is not possible now; ``message`` says why."""


def _not_gone_out(item):
    box = get_outbox(create=False)  # also asked by a page (a GET): must not write
    if box is None:
        return []
    return [
        entry for entry in box.entries_for(IUUID(item)) if posts.not_gone_out(entry)
    ]


def check_public(item):
    if not is_public(item):
        raise SendRefused(
            _("error_send_not_public", default="Only published items can be sent.")
        )


def check_sendable(item):
    """Raises ``SendRefused`` when "Send update" or "Send again" is not possible now."""
    check_public(item)
    if not topics_of(item):
        raise SendRefused(
            _(
                "error_send_no_topics",
                default="Choose at least one topic on the Messenger tab first.",
            )
        )
    if _not_gone_out(item):
        raise SendRefused(
            _(
                "error_send_open",
                default="A messenger post of this item has not gone out yet; it will carry the current content.",
            )
        )


def clean_lead(text):
    """The "what is new" line as it is sent: one line, trimmed; refused when empty or too long."""
    lead = " ".join(str(text or "").split())
    if not lead:
        raise SendRefused(
            _(
                "error_lead_missing",
                default="Say in one line what is new: it leads the update.",
            )
        )
    if len(lead) > LEAD_LIMIT:
        raise SendRefused(
            _(
                "error_lead_too_long",
                default='"What is new" may have at most ${limit} characters; it has ${length}.',
                mapping={"limit": LEAD_LIMIT, "length": len(lead)},
            )
        )
    return lead


def send_update(item, lead=""):
    """The item once more, marked as an update and led by ``lead`` ("what is new").

    The confirmation page always asks for the line; a script may leave it out.
    """
    lead = clean_lead(lead) if lead else ""
    check_sendable(item)
    return posts.make_post(item, UPDATE, lead=lead)


def send_again(item):
    """The item once more, as it is now (after a retract, or a post that was skipped)."""
    check_sendable(item)
    return posts.make_post(item, AGAIN)


def scheduled_entries(item, box=None):
    """The item's posts that wait for a time ahead (its effective date): not gone out yet."""
    box = box if box is not None else get_outbox(create=False)
    if box is None:
        return []
    return [
        entry
        for entry in box.entries_for(IUUID(item))
        if entry.is_open and entry.is_future
    ]


def check_scheduled(item):
    """The item's scheduled posts; ``SendRefused`` when there is none (any more)."""
    entries = scheduled_entries(item)
    if not entries:
        raise SendRefused(
            _(
                "error_nothing_scheduled",
                default="No messenger post of this item is waiting for its time any more.",
            )
        )
    return entries


def send_now(item):
    """Send the item's scheduled post now instead of at its time; returns the entry.

    The recipients are taken now, as when publishing, and the post carries the current
    content. The item's own dates stay as they are.
    """
    check_public(item)
    entry = check_scheduled(item)[-1]
    dispatch.drain()  # as make_post: subscribers the workers found gone are left out
    box = get_outbox()
    plan = plan_post(
        item, entry.kind, entry.post_id, lead=getattr(entry, "lead", ""), due=utcnow()
    )
    entry.post = PersistentMapping(plan.post.to_dict())
    entry.due = plan.due
    entry.recipients = PersistentMapping(plan.counts)
    # Not handed over in its new form yet; the hand-over after commit (or a later drain) is.
    box.set_state(entry, WAITING, synced=False)
    # After commit: the hand-over takes back what was scheduled and sends at once.
    dispatch.after_commit(entry, plan.recipients)
    return entry


def cancel_sending(item):
    """Take back the item's scheduled posts: nothing goes out; returns the entries."""
    entries = check_scheduled(item)
    for entry in entries:
        posts.cancel(entry, reason="editor")
    return entries
