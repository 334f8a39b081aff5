"""Every post ever made, in the site's annotations: the record that makes "never lose a post" true.

An entry is written in the same transaction as the workflow change that causes it, so it
exists exactly when the publication was committed. Handing it to Redis happens after
commit (``dispatch``); an entry whose hand-over is not confirmed yet is "waiting", and
every drain tries again until Redis has it.

Post ids are ``<item UID>-<n>`` with n counting the item's posts: a request that Zope
retries after a ConflictError computes the same id again, and two concurrent sends of one
item write the same key, so one of them conflicts and its retry takes the next number.

An entry the drain cannot hand over on its own (it waited more than three days, or its
snapshot cannot be read) is set aside, not dropped: it is "skipped" with its reason and
listed by ``needs_attention()`` until an admin retries or dismisses it on the dashboard.
"""

from BTrees.OOBTree import OOBTree
from BTrees.OOBTree import OOTreeSet
from persistent import Persistent
from persistent.mapping import PersistentMapping

from collective.messenger.site_annotations import site_annotation
from collective.messenger.subscribers.clock import utcnow

ANNOTATION_KEY = "collective.messenger.outbox"

INITIAL = "initial"  # the first publication
UPDATE = "update"  # "Send update": marked as an update
AGAIN = "again"  # "Send again": the same post once more
KINDS = (INITIAL, UPDATE, AGAIN)

WAITING = "waiting"  # not yet handed to Redis
QUEUED = "queued"  # in Redis, going out now
SCHEDULED = "scheduled"  # in Redis, released at ``due``
CANCELLED = "cancelled"  # retracted before its time; taken back from Redis
SKIPPED = "skipped"  # never sent: ``reason`` says why (expired, no recipients)
STATES = (WAITING, QUEUED, SCHEDULED, CANCELLED, SKIPPED)


# Reasons for which an entry is set aside for an admin's decision (``Outbox.set_aside``).
STALE = "stale"  # waited more than three days for the queue
UNREADABLE = (
    "unreadable"  # its snapshot is not a valid post (e.g. written by an older version)
)


class OutboxEntry(Persistent):
    reason = ""
    error = ""  # what made an unreadable entry unreadable, for the dashboard
    # False while Redis does not reflect the state yet (a hand-over or a cancellation to do).
    synced = False

    def __init__(self, post_id, content_uid, kind, post, due, created):
        self.post_id = post_id
        self.content_uid = content_uid
        self.kind = kind
        self.post = PersistentMapping(post)
        self.due = due
        self.created = created
        self.state = WAITING
        self.recipients = PersistentMapping()

    @property
    def title(self):
        return self._from_post("title")

    @property
    def url(self):
        return self._from_post("url")

    def _from_post(self, name):
        # An unreadable entry (set aside) must still show on the dashboard.
        try:
            return self.post.get(name) or ""
        except AttributeError:
            return ""

    @property
    def is_future(self):
        return self.due > utcnow()

    @property
    def is_open(self):
        """Not yet gone out and not given up: can still be handed over, moved or cancelled."""
        return self.state in (WAITING, SCHEDULED) and (
            self.state == WAITING or self.is_future
        )

    def __repr__(self):
        return f"<OutboxEntry {self.post_id} {self.kind} {self.state}>"


class Outbox(Persistent):
    def __init__(self):
        self._entries = OOBTree()  # post id -> OutboxEntry
        self._by_content = OOBTree()  # item UID -> tuple of post ids, oldest first
        self._by_created = OOTreeSet()  # (created ISO, post id), for "recent posts"
        self._unsynced = OOTreeSet()  # post ids whose Redis side is still to do
        self._attention = (
            OOTreeSet()
        )  # post ids set aside for an admin (stale, unreadable)

    # Outboxes made before ``_attention`` existed get it with the first entry set aside.
    _attention = None

    def get(self, post_id):
        return self._entries.get(post_id)

    def count(self):
        """How many posts the outbox holds (not ``__len__``: an empty outbox stays truthy)."""
        return len(self._entries)

    def entries_for(self, uid):
        return [self._entries[post_id] for post_id in self._by_content.get(uid, ())]

    def recent(self, limit=20):
        entries = []
        for _created, post_id in reversed(self._by_created.keys()):
            entries.append(self._entries[post_id])
            if len(entries) >= limit:
                break
        return entries

    def unsynced(self):
        return [self._entries[post_id] for post_id in self._unsynced]

    def waiting(self):
        return [entry for entry in self.unsynced() if entry.state == WAITING]

    def needs_attention(self):
        """Entries set aside (stale, unreadable) that wait for an admin's retry or dismissal."""
        return [self._entries[post_id] for post_id in self._attention or ()]

    def set_aside(self, entry, reason, error=""):
        """Skip ``entry`` for now and list it for an admin; the drain no longer tries it."""
        entry.error = error
        self.set_state(entry, SKIPPED, reason=reason, synced=True)
        if self._attention is None:
            self._attention = OOTreeSet()
        self._attention.add(entry.post_id)

    def settle(self, entry):
        """An admin retried or dismissed ``entry``: it leaves the list of entries set aside."""
        if self._attention is not None and entry.post_id in self._attention:
            self._attention.remove(entry.post_id)
        if entry.error:
            entry.error = ""

    def next_post_id(self, uid):
        return f"{uid}-{len(self._by_content.get(uid, ())) + 1}"

    def add(self, content_uid, kind, post, due, now=None):
        """A new entry, waiting for its hand-over; ``post`` is a ``Post.to_dict()`` with its id."""
        now = now or utcnow()
        entry = OutboxEntry(post["id"], content_uid, kind, post, due, now)
        self._entries[entry.post_id] = entry
        self._by_content[content_uid] = self._by_content.get(content_uid, ()) + (
            entry.post_id,
        )
        self._by_created.add((now.isoformat(), entry.post_id))
        self._unsynced.add(entry.post_id)
        return entry

    def set_state(self, entry, state, reason="", synced=None):
        entry.state = state
        if reason:
            entry.reason = reason
        if synced is not None:
            self.mark_synced(entry, synced)

    def mark_synced(self, entry, synced=True):
        entry.synced = synced
        if synced:
            if entry.post_id in self._unsynced:
                self._unsynced.remove(entry.post_id)
        else:
            self._unsynced.add(entry.post_id)


def get_outbox(site=None, create=True):
    """The site's outbox; made on first use unless ``create`` is False (then None: pages
    that only read must not write)."""
    return site_annotation(ANNOTATION_KEY, Outbox, site, create)
