"""Handing posts to Redis: after commit for a publication, and later for anything left waiting.

``after_commit`` registers the hand-over of an entry with the recipients snapshotted in the
request; it runs only if the transaction committed, so a failed or retried request sends
nothing. If Redis is unreachable then, the entry stays "waiting" in the outbox, the editor
is told, and ``drain`` (the next publication, the "Send waiting posts now" button,
``POST @messenger-dispatch`` from cron) hands it over later. Job ids are deterministic and
the worker's per-recipient marks are final, so a post handed over twice is sent once.

The drain never lets one entry stop the others, nor the publication that runs it: an entry
whose snapshot cannot be read, or that waited more than three days, is set aside (see
``outbox.Outbox.set_aside``) with one log line, and the dashboard offers "Send anyway" and
"Dismiss" for it (``retry_set_aside``, ``dismiss_set_aside``).
"""

import logging
from datetime import timedelta

import redis
import transaction
from persistent.mapping import PersistentMapping
from ZODB.POSException import ConflictError
from zope.globalrequest import getRequest
from zope.i18n import translate

from collective.messenger import _
from collective.messenger.errors import MessageError
from collective.messenger.publishing.gone import absorb_gone
from collective.messenger.publishing.outbox import CANCELLED
from collective.messenger.publishing.outbox import get_outbox
from collective.messenger.publishing.outbox import QUEUED
from collective.messenger.publishing.outbox import SCHEDULED
from collective.messenger.publishing.outbox import STALE
from collective.messenger.publishing.outbox import UNREADABLE
from collective.messenger.publishing.outbox import WAITING
from collective.messenger.publishing.snapshot import count_by_channel
from collective.messenger.publishing.snapshot import recipients_for
from collective.messenger.redis_client import get_redis
from collective.messenger.signup.reply_outbox import drain as drain_replies
from collective.messenger.subscribers.clock import utcnow
from messenger_worker.connection import display_url
from messenger_worker.fanout import cancel_post
from messenger_worker.fanout import hand_over
from messenger_worker.fanout import scheduled_batches
from messenger_worker.ledger import post_key
from messenger_worker.ledger import stats_key
from messenger_worker.payload import PayloadError
from messenger_worker.payload import Post

log = logging.getLogger("collective.messenger")

# A post that could not be handed over for this long is news no more: it is not sent late on
# its own, but set aside for an admin to send anyway or dismiss.
STALE_AFTER = timedelta(days=3)
ERROR_LIMIT = 300


def send(connection, entry_post, recipients, due):
    """Hand the post to Redis now, or schedule it for ``due``; idempotent.

    ``recipients`` are the store's rows; a worker splits them into batch jobs
    (``messenger_worker.fanout.hand_over``).
    """
    post = Post.from_dict(dict(entry_post))
    at = due if due > utcnow() + timedelta(seconds=1) else None
    # A moved post: what was scheduled for the old time goes, the new one comes.
    cancel_post(connection, post.id)
    hand_over(connection, post, recipients, at=at)


def in_redis(connection, entry):
    """Whether Redis has the entry's post (queued, sending, sent or scheduled)."""
    return bool(connection.exists(post_key(entry.post_id), stats_key(entry.post_id)))


def live_state(entry, connection=None):
    """The entry's state as Redis knows it: a "waiting" entry may have been handed over already."""
    if entry.state != WAITING:
        return entry.state
    try:
        connection = connection or get_redis()
        if in_redis(connection, entry):
            return SCHEDULED if scheduled_batches(connection, entry.post_id) else QUEUED
    except redis.RedisError:
        pass
    return WAITING


# -- after commit ----------------------------------------------------------------------------


def after_commit(entry, recipients, notify=True):
    """Hand ``entry`` over once this transaction committed (cancel it if it is cancelled)."""
    operation = (
        entry.state,
        entry.post_id,
        dict(entry.post),
        list(recipients),
        entry.due,
    )
    transaction.get().addAfterCommitHook(_run_after_commit, args=(operation, notify))


def _run_after_commit(succeeded, operation, notify):
    if not succeeded:
        return
    state, post_id, post, recipients, due = operation
    try:
        connection = get_redis()
        if state == CANCELLED:
            cancel_post(connection, post_id)
        else:
            send(connection, post, recipients, due)
    except PayloadError as error:
        log.warning(
            "Post %s cannot be handed over, its snapshot is unreadable (%s); the next drain "
            "lists it on the messenger dashboard.",
            post_id,
            error,
        )
        return
    except redis.RedisError as error:
        log.warning(
            "Post %s waits in the outbox: Redis at %s is unreachable (%s). It is handed over by "
            "the next publication, the 'Send waiting posts now' button or POST @messenger-dispatch.",
            post_id,
            display_url(),
            error,
        )
        if notify and state != CANCELLED:
            _tell_editor(
                _(
                    "status_post_waiting",
                    default="The delivery queue is not reachable right now. The messenger post is "
                    "kept and will be sent as soon as the queue is reachable.",
                ),
                "warning",
            )
        return
    if notify and state != CANCELLED:
        _tell_editor(_sent_message(len(recipients), due), "info")


def _sent_message(count, due):
    if due > utcnow() + timedelta(seconds=1):
        # In the site's time zone and the editor's language, as the Messenger box shows it.
        from collective.messenger.browser.status_labels import format_time

        return _(
            "status_post_scheduled",
            default="Messenger: scheduled for ${when} to ${count} subscribers.",
            mapping={"when": format_time(due), "count": count},
        )
    return _(
        "status_post_sending",
        default="Messenger: sending to ${count} subscribers.",
        mapping={"count": count},
    )


def _tell_editor(message, kind):
    request = getRequest()
    if request is None:
        return
    try:
        from Products.statusmessages.interfaces import IStatusMessage

        IStatusMessage(request).add(translate(message, context=request), type=kind)
    except (TypeError, AttributeError):
        pass  # no response to carry it (a script)


def queue_reachable():
    try:
        return bool(get_redis().ping())
    except redis.RedisError:
        return False


# -- draining ---------------------------------------------------------------------------------


def drain(site=None, connection=None):
    """Bring Redis in line with the outbox: hand over waiting posts, take back cancelled ones.

    Runs in a request (a publication, the button, ``@messenger-dispatch``) or in the
    housekeeping clock; its changes to the outbox commit with it. Returns
    ``{"dispatched", "cancelled", "skipped", "waiting"}`` ("skipped" counts the entries set
    aside now). Never raises for one entry: a publication must not fail over an old post.
    """
    box = get_outbox(site)
    result = {"dispatched": 0, "cancelled": 0, "skipped": 0, "waiting": 0}
    try:
        connection = connection or get_redis()
        connection.ping()
    except redis.RedisError:
        # Down: nothing to do but wait (said once where a post could not be handed over).
        result["waiting"] = len(box.waiting())
        return result
    try:
        absorb_gone(connection)
        result.update(
            drain_replies(connection)
        )  # citizens' replies wait in their own outbox
        now = utcnow()
        for entry in box.unsynced():
            outcome = _drain_entry(box, entry, connection, now)
            if outcome:
                result[outcome] += 1
    except redis.RedisError as error:
        # What is done stays done; the rest waits for the next drain.
        log.warning(
            "Draining the messenger outbox stopped: Redis at %s failed (%s).",
            display_url(),
            error,
        )
    result["waiting"] = len(box.waiting())
    return result


def _drain_entry(box, entry, connection, now):
    """One entry's Redis side; returns the result key it counts under, or None."""
    if entry.state == CANCELLED:
        cancel_post(connection, entry.post_id)
        box.mark_synced(entry)
        return "cancelled"
    if entry.state not in (WAITING, SCHEDULED):
        box.mark_synced(entry)
        return None
    if in_redis(connection, entry):
        box.set_state(entry, SCHEDULED if entry.due > now else QUEUED, synced=True)
        return None
    if entry.due < now - STALE_AFTER:
        box.set_aside(entry, STALE)
        log.warning(
            "Post %s waited more than %s for the queue and was not sent. It is listed on the "
            "messenger dashboard, where an admin can send it anyway.",
            entry.post_id,
            STALE_AFTER,
        )
        return "skipped"
    try:
        _hand_over(connection, entry, now)
    except (ConflictError, redis.RedisError):
        raise
    except Exception as error:
        # Unreadable (e.g. stored by an older version): set aside once, with a reason to act on.
        box.set_aside(entry, UNREADABLE, error=error_text(error))
        log.warning(
            "Post %s cannot be handed over (%s) and was set aside; see the messenger dashboard.",
            entry.post_id,
            error_text(error),
            exc_info=not isinstance(error, PayloadError),
        )
        return "skipped"
    box.set_state(entry, SCHEDULED if entry.due > now else QUEUED, synced=True)
    return "dispatched"


def _hand_over(connection, entry, now):
    """Send ``entry`` with the recipients of now; raises PayloadError before touching Redis."""
    try:
        Post.from_dict(dict(entry.post))
    except (TypeError, ValueError, AttributeError) as error:
        if isinstance(error, PayloadError):
            raise
        raise PayloadError(
            f"The stored post is not a post snapshot ({error})."
        ) from None
    recipients = recipients_for(tuple(entry.post.get("topics") or ()))
    entry.recipients = PersistentMapping(count_by_channel(recipients))
    send(connection, entry.post, recipients, entry.due)


def error_text(error):
    return f"{type(error).__name__}: {error}"[:ERROR_LIMIT]


# -- entries set aside: the dashboard's "Send anyway" and "Dismiss" -----------------------------


class NotSendable(MessageError):
    """An entry set aside whose item is gone or no longer public: nothing is sent."""


def _still_public(entry):
    from plone import api

    from collective.messenger.publishing.events import (
        is_public,  # events imports this module
    )

    brains = api.portal.get_tool("portal_catalog").unrestrictedSearchResults(
        UID=entry.content_uid
    )
    return bool(brains) and is_public(brains[0]._unrestrictedGetObject())


def retry_set_aside(post_id, site=None, connection=None):
    """Hand an entry that was set aside over now, with today's recipients; returns it.

    None if ``post_id`` is not set aside (any more). Raises ``redis.RedisError`` (nothing
    changes), ``NotSendable`` (the item was retracted or deleted meanwhile) and
    ``PayloadError`` (the entry stays set aside, with the new error).
    """
    box = get_outbox(site)
    entry = box.get(post_id) if isinstance(post_id, str) else None
    if entry is None or entry not in box.needs_attention():
        return None
    if not _still_public(entry):
        raise NotSendable(
            _(
                "error_set_aside_not_public",
                default="“${title}” is no longer published, so it was not sent. Dismiss it.",
                mapping={"title": entry.title or entry.post_id},
            )
        )
    connection = connection or get_redis()
    now = utcnow()
    try:
        _hand_over(connection, entry, now)
    except PayloadError as error:
        entry.error = error_text(error)
        raise
    box.settle(entry)
    entry.reason = ""
    box.set_state(entry, SCHEDULED if entry.due > now else QUEUED, synced=True)
    return entry


def dismiss_set_aside(post_id, site=None):
    """An admin decided an entry set aside stays unsent; returns it, or None."""
    box = get_outbox(site)
    entry = box.get(post_id) if isinstance(post_id, str) else None
    if entry is None or entry not in box.needs_attention():
        return None
    box.settle(entry)
    return entry
