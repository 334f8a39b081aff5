"""The editor's actions on a published item: "Send update" and "Send again"."""

from collective.messenger import _
from collective.messenger.errors import MessageError
from collective.messenger.publishing import posts
from collective.messenger.publishing.events import is_public
from collective.messenger.publishing.outbox import AGAIN
from collective.messenger.publishing.outbox import UPDATE
from collective.messenger.publishing.snapshot import topics_of


class SendRefused(MessageError):
    """The editor's send action is not possible now; ``message`` says why."""


def _check(item):
    if not is_public(item):
        raise SendRefused(_("error_send_not_public", default="Only published items can be sent."))
    if not topics_of(item):
        raise SendRefused(_(
            "error_send_no_topics",
            default="Choose at least one topic on the Messenger tab first.",
        ))
    if posts.open_entries(item):
        raise SendRefused(_(
            "error_send_open",
            default="A messenger post of this item has not gone out yet; it will carry the current content.",
        ))


def send_update(item):
    """The item once more, marked as an update."""
    _check(item)
    return posts.make_post(item, UPDATE)


def send_again(item):
    """The item once more, as it is now (after a retract, or a post that was skipped)."""
    _check(item)
    return posts.make_post(item, AGAIN)
