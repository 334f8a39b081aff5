"""Replies to citizens (code, welcome, goodbye, manage link) that wait in the ZODB until Redis has them.

Like the post outbox (``publishing.outbox``): a reply is recorded in the site's annotations
in the same transaction as the change that causes it, and handed to Redis after commit.
Once Redis has it, a short transaction of its own drops the text (which may hold a code or
the manage link) and the address from the record, so they are kept no longer than the
hand-over takes; it changes only that record, never the outbox's tree, so it cannot
conflict with requests adding replies. The emptied record is removed by the next drain. If
Redis is unreachable at commit, the record waits: the next reply whose hand-over succeeds
hands it over too (emptying it the same way), and ``drain`` does (the next publication,
"Send waiting posts now", the dashboard's "Send waiting replies now",
``POST @messenger-dispatch`` and the housekeeping clock call it).

``enqueue_reply`` is idempotent per reply id (the worker's job id and mark), so a reply
handed over twice (a drain racing a hand-over, a side transaction that conflicted) is
sent once. A reply that waited longer than it is of use (a code after its 15 minutes, any
other reply after three days) is dropped with a log line, not sent late.
"""

import logging
from datetime import timedelta

import redis
import transaction
from BTrees.OOBTree import OOBTree
from persistent import Persistent
from ZODB.POSException import ConflictError

from collective.messenger.redis_client import get_redis
from collective.messenger.site_annotations import site_annotation
from collective.messenger.subscribers.clock import utcnow
from collective.messenger.subscribers.model import CODE_LIFETIME
from messenger_worker.connection import display_url
from messenger_worker.payload import Recipient
from messenger_worker.replies import enqueue_reply

log = logging.getLogger("collective.messenger")

ANNOTATION_KEY = "collective.messenger.reply_outbox"
REPLY_LIFETIME = timedelta(days=3)
# How often the side transaction that empties a handed-over reply is tried on conflicts;
# if all fail, the next drain hands it over again (the worker sends a reply id once).
SIDE_ATTEMPTS = 3

# Whether replies may be waiting that this process has not handed over since: set when a
# hand-over found Redis down (and at start-up, not knowing). While it is unset, a hand-over
# looks at its own record only, not at every record of the outbox.
_maybe_waiting = {"flag": True}


def lifetime_of(reply_id):
    """How long a reply is worth sending: a code only while it is valid."""
    return CODE_LIFETIME if reply_id.startswith("code-") else REPLY_LIFETIME


class WaitingReply(Persistent):
    def __init__(self, reply_id, recipient, text, created):
        self.reply_id = reply_id
        self.recipient = tuple(recipient.to_list())
        self.text = text
        self.created = created
        self.expires = created + lifetime_of(reply_id)

    handed_over = False

    @property
    def subscriber_id(self):
        return self.recipient[0] if self.recipient else ""

    @property
    def channel(self):
        return self.recipient[1] if self.recipient else ""

    def empty_once(self):
        """Redis has it (or it is given up): keep nothing a citizen could be recognised or
        harmed by. True if this changed the record."""
        if self.handed_over:
            return False
        self.handed_over = True
        self.text = None
        self.recipient = None
        return True

    def as_recipient(self):
        return Recipient.from_list(list(self.recipient))

    def __repr__(self):
        # Never the text or the address: reprs end up in logs.
        return f"<WaitingReply {self.reply_id} {self.channel}>"


class ReplyOutbox(Persistent):
    def __init__(self):
        self._entries = OOBTree()  # reply id -> WaitingReply

    def __len__(self):
        return len(self._entries)

    def get(self, reply_id):
        return self._entries.get(reply_id)

    def entries(self):
        return list(self._entries.values())

    def waiting(self):
        return [entry for entry in self._entries.values() if not entry.handed_over]

    def add(self, reply_id, recipient, text, now=None):
        entry = WaitingReply(reply_id, recipient, text, now or utcnow())
        self._entries[reply_id] = entry
        return entry

    def forget(self, reply_id):
        """Remove the reply (handed over or given up); nothing if it is gone already."""
        if reply_id in self._entries:
            del self._entries[reply_id]
            return True
        return False


def get_reply_outbox(site=None, create=True):
    """The site's reply outbox; made on first use unless ``create`` is False (then None)."""
    return site_annotation(ANNOTATION_KEY, ReplyOutbox, site, create)


def waiting_count(site=None):
    box = get_reply_outbox(site, create=False)
    return len(box.waiting()) if box is not None else 0


# -- recording (in the request) --------------------------------------------------------------


def record(reply_id, recipient, text):
    """Keep the reply with this transaction and hand it to Redis after commit.

    The request only adds to the outbox; emptying and removing records happens in other
    transactions, so a burst of signups does not conflict over the outbox.
    """
    from collective.messenger.subscribers import get_store

    box = get_reply_outbox()
    entry = box.add(reply_id, recipient, text)
    transaction.get().addAfterCommitHook(
        _hand_over_after_commit,
        args=(entry, box, get_store(), reply_id, recipient, text),
    )


def _hand_over_after_commit(succeeded, entry, box, store, reply_id, recipient, text):
    if not succeeded:
        return
    try:
        connection = get_redis()
        enqueue_reply(connection, reply_id, recipient, text)
    except redis.RedisError as error:
        _maybe_waiting["flag"] = True
        log.warning(
            "Reply %s for %s subscriber %s waits in the reply outbox: Redis at %s is unreachable "
            "(%s). It is handed over by the next reply, publication, 'Send waiting replies now' "
            "on the dashboard or POST @messenger-dispatch.",
            reply_id.split("-", 1)[0],
            recipient.channel,
            recipient.subscriber_id or "-",
            display_url(),
            error,
        )
        return
    others = _maybe_waiting["flag"]
    done = _in_own_transaction(
        entry, lambda get: _after_hand_over(get, entry, box, store, connection, others)
    )
    if done and others:
        _maybe_waiting["flag"] = False


def _after_hand_over(get, entry, box, store, connection, others):
    """Empty the reply just handed over; if replies may have waited (``others``), Redis is
    back: hand them over too (emptying them, never touching the outbox's tree)."""
    changed = get(entry).empty_once()
    if others:
        waiting = [
            record for record in get(box).waiting() if record.reply_id != entry.reply_id
        ]
        if waiting:
            result = hand_over(waiting, connection, get(store), remove=None)
            changed = changed or any(result.values())
    return changed


def _in_own_transaction(entry, work):
    """Run ``work(get)`` in a transaction of its own (the request's is over); ``get`` gives an
    object of the request as this transaction sees it. Retried on write conflicts; True once
    done."""
    jar = entry._p_jar
    if jar is None:
        return False
    manager = transaction.TransactionManager()
    connection = jar.db().open(transaction_manager=manager)
    try:
        for _attempt in range(SIDE_ATTEMPTS):
            manager.begin()
            try:
                if work(lambda obj: connection.get(obj._p_oid)):
                    manager.get().note("collective.messenger: replies handed over")
                    manager.commit()
                return True
            except ConflictError:
                manager.abort()
        log.info(
            "Reply %s keeps its text until the next drain (write conflicts).",
            entry.reply_id,
        )
    except (KeyError, redis.RedisError) as error:
        log.info(
            "Reply %s keeps its text until the next drain (%s).", entry.reply_id, error
        )
    finally:
        manager.abort()
        connection.close()
    return False


# -- draining ---------------------------------------------------------------------------------


def drain(connection=None, box=None, site=None):
    """Hand every waiting reply to Redis and remove the records handed over, in the current
    transaction (a publication, the dashboard's button, ``@messenger-dispatch``, the
    housekeeping clock).

    Returns ``{"replies_sent", "replies_dropped", "replies_waiting"}``. Replies past their
    use and replies of subscribers deleted meanwhile are dropped.
    """
    from collective.messenger.subscribers import get_store

    box = box if box is not None else get_reply_outbox(site, create=False)
    result = {"replies_sent": 0, "replies_dropped": 0, "replies_waiting": 0}
    if box is None or not len(box):
        return result
    for entry in box.entries():
        if entry.handed_over:
            box.forget(entry.reply_id)
    # A reply recorded in this very transaction is handed over after its commit, not before:
    # the transaction may still fail, and then the reply must not go out.
    own = recorded_in(transaction.get())
    waiting = [entry for entry in box.waiting() if entry.reply_id not in own]
    if waiting:
        try:
            connection = connection or get_redis()
            connection.ping()
        except redis.RedisError:
            result["replies_waiting"] = len(box.waiting())
            return result
        result.update(hand_over(waiting, connection, get_store(site), remove=box))
    result["replies_waiting"] = len(box.waiting())
    return result


def hand_over(entries, connection, store, remove=None):
    """Enqueue ``entries`` (drop those past their use or of deleted subscribers); each is
    removed from ``remove`` (an outbox) or, without it, emptied in place."""
    result = {"replies_sent": 0, "replies_dropped": 0}
    now = utcnow()
    for entry in entries:
        if entry.handed_over:
            continue
        if entry.expires <= now:
            log.warning(
                "Reply %s waited too long for the queue; dropped.", entry.reply_id
            )
            result["replies_dropped"] += 1
        elif entry.subscriber_id and (
            store is None or store.get(entry.subscriber_id) is None
        ):
            result["replies_dropped"] += (
                1  # the subscriber's data was deleted meanwhile
            )
        else:
            try:
                enqueue_reply(
                    connection, entry.reply_id, entry.as_recipient(), entry.text
                )
            except redis.RedisError as error:
                log.warning(
                    "Reply outbox: Redis at %s failed during the hand-over (%s).",
                    display_url(),
                    error,
                )
                break
            result["replies_sent"] += 1
        if remove is not None:
            remove.forget(entry.reply_id)
        else:
            entry.empty_once()
    return result


def recorded_in(txn):
    return {
        args[1]
        for hook, args, _kws in txn.getAfterCommitHooks()
        if hook is _hand_over_after_commit
    }
