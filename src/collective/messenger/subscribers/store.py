"""The subscriber store: records in BTrees, the indexes that find them, counters.

Built for a few hundred thousand subscribers and for bursts of concurrent signups. Every
write goes to sharded BTrees keyed by random ids or tokens (see ``trees``) or to
``BTrees.Length`` counters; ZODB resolves concurrent changes to different keys of a bucket
and to counters, so simultaneous signups rarely conflict, and when they do, Zope's retry
succeeds. There is no single hot object: no list of all ids, no plain integer counter.
"""

from datetime import timedelta
from functools import reduce

from BTrees.Length import Length
from BTrees.OOBTree import OOBTree
from BTrees.OOBTree import union
from persistent import Persistent

from collective.messenger.settings.validation import TOPIC_ID
from collective.messenger.subscribers import codes
from collective.messenger.subscribers import leavers
from collective.messenger.subscribers import tokens
from collective.messenger.subscribers.clock import epoch
from collective.messenger.subscribers.clock import utcnow
from collective.messenger.subscribers.indexing import count_keys
from collective.messenger.subscribers.indexing import index_entries
from collective.messenger.subscribers.indexing import INDEXES
from collective.messenger.subscribers.indexing import RECIPIENT_SEPARATOR
from collective.messenger.subscribers.indexing import SET_INDEXES
from collective.messenger.subscribers.model import ACTIVE
from collective.messenger.subscribers.model import ADDRESS_FROM_MESSENGER
from collective.messenger.subscribers.model import ADDRESS_PROVEN_BY_CODE
from collective.messenger.subscribers.model import CHANNELS
from collective.messenger.subscribers.model import Consent
from collective.messenger.subscribers.model import CONSENT_PATHS
from collective.messenger.subscribers.model import IMMEDIATE
from collective.messenger.subscribers.model import MODES
from collective.messenger.subscribers.model import PENDING
from collective.messenger.subscribers.model import PENDING_LIFETIME
from collective.messenger.subscribers.model import STATES
from collective.messenger.subscribers.model import Subscriber
from collective.messenger.subscribers.model import UNREACHABLE
from collective.messenger.subscribers.model import UNSUBSCRIBED
from collective.messenger.subscribers.trees import AddressIndex
from collective.messenger.subscribers.trees import RecipientMap
from collective.messenger.subscribers.trees import shard_of
from collective.messenger.subscribers.trees import ShardedTree
from collective.messenger.subscribers.trees import TopicMembers

# Day counters (``daily()``): what the admin view charts.
DAILY_EVENTS = ("confirmed", "unsubscribed", "unreachable", "expired", "deleted")
DAYS_AHEAD = 31
MAX_ADDRESS_LENGTH = 64
MAX_LANGUAGE_LENGTH = 16
# A signup expires at most this many expired signups near its own token (the belt to the
# housekeeping clock's braces); the clock does the rest.
EXPIRE_ON_SIGNUP = 5
# Leavers erased per call of ``erase_leavers``: keeps one transaction small; the clock comes back.
ERASE_BATCH = 1000


class SubscriberError(ValueError):
    """A call the store refuses: a wrong value or a change the state does not allow.

    For developers, not citizens: forms and services validate first and show their own text.
    """


class SubscriberStore(Persistent):
    # Stores made before erasure existed: the "left" index comes with the first leaver (or
    # erasure), and the first ``erase_leavers`` indexes the leavers from before.
    _left = None
    _left_complete = False
    _erased = None  # count key -> Length: the counts of erased leavers, kept

    def __init__(self):
        # See indexing.INDEXES for what each index holds.
        self._subscribers = ShardedTree()  # id -> Subscriber
        self._topics = OOBTree()  # few keys, each a TopicMembers
        self._recipients = RecipientMap()
        self._addresses = AddressIndex()
        self._confirm_tokens = ShardedTree()
        self._manage_tokens = ShardedTree()
        self._signup_keys = ShardedTree()
        self._left = ShardedTree()
        self._left_complete = True
        self._erased = OOBTree()
        self._counts = OOBTree()  # count key -> Length
        self._daily = OOBTree()  # (ISO day, event) -> Length
        # Created up front, so that the first signups of a fresh site do not all insert them.
        for channel in CHANNELS:
            for state in STATES:
                self._counts[("channel", channel, state)] = Length()

    # -- reading ---------------------------------------------------------------------------

    def get(self, subscriber_id):
        if not isinstance(subscriber_id, str):
            return None
        return self._subscribers.get(subscriber_id)

    def by_confirm_token(self, token, now=None):
        """The pending subscriber for a confirm token; None if unknown, used or expired."""
        if not tokens.is_token(token):
            return None
        sid, _expires = self._confirm_tokens.get(token, (None, None))
        subscriber = self.get(sid)
        if subscriber is None or not subscriber.is_pending:
            return None
        if (now or utcnow()) >= subscriber.confirm_expires:
            return None
        return subscriber

    def by_manage_token(self, token):
        """The confirmed (active, unsubscribed or unreachable) subscriber for a manage token."""
        if not tokens.is_token(token):
            return None
        return self.get(self._manage_tokens.get(token))

    def by_address(self, channel, address):
        """The one record past pending for this address, whatever its state; or None."""
        try:
            key = (channel, _normalise_address(channel, address))
        except SubscriberError:
            return None
        return self.get(self._addresses.get(key))

    def active_recipients(self, topics, mode=IMMEDIATE):
        """The fan-out snapshot: [(subscriber_id, channel, address, language)] of everyone
        active in any of ``topics`` with delivery ``mode``, each subscriber once.

        Reads only index buckets, never subscriber records, so it stays fast when the
        records are not in the ZODB cache.
        """
        sets = [
            self._topics.get(t) for t in dict.fromkeys(topics) if isinstance(t, str)
        ]
        sets = [members for members in sets if members is not None]
        snapshot = []
        append = snapshot.append
        if not sets:
            return snapshot
        floor = self._recipients.floor
        separator = RECIPIENT_SEPARATOR
        # Shard i of every topic holds the same ids as shard i of the recipient map.
        for number, recipients in enumerate(self._recipients.shards):
            parts = [members.shards[number] for members in sets]
            # BTrees' union merges sorted sets in C; each id comes out once.
            ids = parts[0] if len(parts) == 1 else reduce(union, parts)
            for sid in ids.keys(floor, excludemin=True):
                channel, address, language, their_mode = recipients[sid].split(
                    separator
                )
                if their_mode == mode:
                    append((sid, channel, address, language))
        return snapshot

    def pending(self):
        """Every pending record (few: they expire after a day), e.g. for an admin's lookup."""
        for subscriber_id, _expires in self._confirm_tokens.values():
            subscriber = self.get(subscriber_id)
            if subscriber is not None:
                yield subscriber

    def counts(self):
        """Subscribers per state, channel and topic (numbers only, never addresses).

        {"total": n, "states": {state: n}, "channels": {channel: {state: n}},
         "topics": {topic: {state: n}}, "topic_channels": {topic: {channel: {state: n}}}}
        A subscriber counts once in "states" and "channels", and once per topic in "topics".
        """
        states = dict.fromkeys(STATES, 0)
        channels = {channel: dict.fromkeys(STATES, 0) for channel in CHANNELS}
        topics, topic_channels = {}, {}
        for key, length in self._counts.items():
            value = length()
            if key[0] == "channel":
                _kind, channel, state = key
                channels[channel][state] += value
                states[state] += value
            else:
                _kind, topic, channel, state = key
                topics.setdefault(topic, dict.fromkeys(STATES, 0))[state] += value
                per_channel = topic_channels.setdefault(topic, {})
                per_channel.setdefault(channel, dict.fromkeys(STATES, 0))[state] += (
                    value
                )
        return {
            "total": sum(states.values()),
            "states": states,
            "channels": channels,
            "topics": topics,
            "topic_channels": topic_channels,
        }

    def daily(self, since=None, until=None):
        """{ISO day: {event: n}} for DAILY_EVENTS, per UTC day from ``since`` to ``until``
        (dates or ISO days; ``until`` defaults to today). Days without a counter are
        missing: the store began counting later."""
        start = since.isoformat() if hasattr(since, "isoformat") else since
        end = until.isoformat() if hasattr(until, "isoformat") else until
        end = end or utcnow().date().isoformat()
        days = {}
        for (day, event), length in self._daily.items(min=(start,) if start else None):
            if day > end:
                break
            days.setdefault(day, dict.fromkeys(DAILY_EVENTS, 0))[event] = length()
        return days

    # -- topics ----------------------------------------------------------------------------

    def prepare(self, topic_ids=(), now=None):
        """Create ahead of time what signups would otherwise create on the fly: each
        topic's member set and counters, and the day counters of the next month.

        Call it at install, when topics are saved, and from the periodic expiry job
        (``expire_pending`` does). A burst of signups then inserts no shared keys; without
        it, the first signups of a new topic or of a new month all insert the same keys,
        and all but one conflict and are retried.
        """
        self._prepare_topics(topic_ids)
        self._prepare_days((now or utcnow()).date())

    def _prepare_topics(self, topic_ids):
        for topic in topic_ids:
            self._topic_members(topic)
            self._counter((
                "topic",
                topic,
                CHANNELS[0],
                PENDING,
            ))  # makes the topic's set

    # -- signing up ------------------------------------------------------------------------

    def add_pending(
        self,
        channel,
        topics,
        language,
        consent,
        address=None,
        mode=IMMEDIATE,
        request_key=None,
        now=None,
    ):
        """A new pending subscription, valid for 24 hours.

        Telegram and WhatsApp learn the address on confirmation, so ``address`` must be None
        for them; Signal and Threema need the (normalised) number or Threema ID now.
        ``request_key`` (a form nonce, an Idempotency-Key) makes the call idempotent: the
        same request run again, say by a client that retried, returns the first
        subscriber instead of a second one while it is pending.
        """
        now = now or utcnow()
        channel = _check_channel(channel)
        if channel in ADDRESS_FROM_MESSENGER:
            if address is not None:
                raise SubscriberError(f"{channel} learns the address on confirmation.")
        else:
            address = _normalise_address(channel, address)
        topics = _check_topics(topics)
        language = _check_language(language)
        mode = _check_mode(mode)
        consent = _check_consent(consent, now)

        signup_key = None
        if request_key is not None:
            signup_key = tokens.signup_fingerprint(
                request_key, channel, address, topics, language, mode
            )
            earlier = self.get(self._signup_keys.get(signup_key))
            if earlier is not None and earlier.is_pending:
                return earlier

        # A new topic's member set and counters are made here, in the signup, and not
        # half here and half in the confirmation: one place where a burst may conflict.
        self._prepare_topics([topic for topic in topics if topic not in self._topics])
        subscriber = Subscriber(
            id=self._unused_id(),
            channel=channel,
            topics=topics,
            language=language,
            mode=mode,
            consent=consent,
            manage_token=tokens.new_manage_token(),
            created=now,
        )
        subscriber.address = address
        subscriber.confirm_token = self._unused_confirm_token()
        subscriber.confirm_expires = now + PENDING_LIFETIME
        if signup_key is not None:
            subscriber.signup_key = signup_key
        self._subscribers[subscriber.id] = subscriber
        self._reindex(subscriber, set(), set())
        self._expire_near(subscriber.confirm_token, now)
        return subscriber

    def issue_code(self, subscriber, now=None):
        """A new 6-digit code for a pending Signal or Threema signup; returned once, stored
        only as a hash, valid 15 minutes for 5 attempts. Replaces any earlier code."""
        if subscriber.channel not in ADDRESS_PROVEN_BY_CODE:
            raise SubscriberError(
                f"{subscriber.channel} confirms with a link, not a code."
            )
        if not subscriber.is_pending:
            raise SubscriberError(f"{subscriber!r} is not pending.")
        code = codes.new_code()
        subscriber.code = codes.challenge_for(subscriber.id, code, now or utcnow())
        return code

    def verify_code(self, subscriber, code, now=None):
        """Check an entered code; returns a ``CodeCheck``.

        Does not activate: on ``CodeCheck.OK`` call ``activate(subscriber)``. Wrong attempts
        are counted on the record, so the caller's transaction must commit even when it
        answers "wrong code" (return an error response; do not raise, which would abort).
        """
        result, challenge = codes.check(
            subscriber.code, subscriber.id, code, now or utcnow()
        )
        if challenge is not subscriber.code:
            if challenge is None:
                subscriber.forget("code")
            else:
                subscriber.code = challenge
        return result

    def activate(self, subscriber, address=None, now=None):
        """Double opt-in done: the pending subscription becomes active; returns the survivor.

        If this address already has a record, the pending one is merged into it and
        dropped, so nobody is subscribed twice: an active record gains the new topics and
        the newer consent; an unsubscribed or unreachable one comes back with what was
        just chosen. Activating an active subscriber again changes nothing.
        """
        now = now or utcnow()
        if address is not None:
            address = _normalise_address(subscriber.channel, address)
        if subscriber.is_active:
            if address is not None and address != subscriber.address:
                raise SubscriberError(f"{subscriber!r} is active with another address.")
            return subscriber
        if not subscriber.is_pending:
            raise SubscriberError(f"{subscriber!r} is not pending.")
        if subscriber.address is not None and address not in (None, subscriber.address):
            raise SubscriberError(f"{subscriber!r} was confirmed for another address.")
        address = address or subscriber.address
        if address is None:
            raise SubscriberError(
                f"{subscriber!r} needs the address from the messenger."
            )

        existing = self.get(self._addresses.get((subscriber.channel, address)))
        if existing is not None:
            return self._merge_into(existing, subscriber, now)
        with self._changing(subscriber):
            subscriber.address = address
            subscriber.state = ACTIVE
            subscriber.confirmed = subscriber.changed = now
            subscriber.forget("confirm_token", "confirm_expires", "signup_key", "code")
        self._count_day(now, "confirmed")
        return subscriber

    # -- changing --------------------------------------------------------------------------

    def set_topics(self, subscriber, topics, now=None):
        topics = _check_topics(topics)
        if topics != subscriber.topics:
            with self._changing(subscriber):
                subscriber.topics = topics
                subscriber.changed = now or utcnow()
        return subscriber

    def set_mode(self, subscriber, mode, now=None):
        mode = _check_mode(mode)
        if mode != subscriber.mode:
            with self._changing(subscriber):
                subscriber.mode = mode
                subscriber.changed = now or utcnow()
        return subscriber

    def set_language(self, subscriber, language, now=None):
        language = _check_language(language)
        if language != subscriber.language:
            with self._changing(subscriber):
                subscriber.language = language
                subscriber.changed = now or utcnow()
        return subscriber

    def unsubscribe(self, subscriber, now=None):
        """The citizen leaves. The record stays (state "unsubscribed") for the manage page
        and statistics; a pending signup is simply deleted. Returns the record, or None
        when it was deleted."""
        now = now or utcnow()
        if subscriber.is_pending:
            self.delete(subscriber, now=now)
            return None
        if subscriber.state != UNSUBSCRIBED:
            with self._changing(subscriber):
                subscriber.state = UNSUBSCRIBED
                subscriber.unsubscribed = subscriber.changed = subscriber.left = now
            self._count_day(now, "unsubscribed")
        return subscriber

    def mark_unreachable(self, channel, address, now=None):
        """The platform says this address is gone (blocked bot, unknown number). Only an
        active subscriber changes; returns it, or None when nothing changed."""
        return self._make_unreachable(self.by_address(channel, address), now)

    def mark_unreachable_by_id(self, subscriber_id, now=None):
        return self._make_unreachable(self.get(subscriber_id), now)

    def delete(self, subscriber, now=None):
        """Erase a subscriber with every index entry (GDPR). The data leaves the ZODB file
        with the next pack, which drops old object revisions."""
        sid = subscriber.id
        if self._subscribers.get(sid) is not subscriber:
            return False
        self._reindex(
            subscriber, index_entries(subscriber), count_keys(subscriber), gone=True
        )
        del self._subscribers[sid]
        self._count_day(now or utcnow(), "deleted")
        return True

    def expire_pending(self, now=None):
        """Delete pending signups older than 24 hours; returns how many."""
        now = now or utcnow()
        self._prepare_days(now.date())  # this job runs regularly: keep a month ready
        cutoff = epoch(now)
        expired = [
            sid for sid, expires in self._confirm_tokens.values() if expires <= cutoff
        ]
        return self._expire(expired, now)

    def _expire_near(self, token, now):
        """Expire a few expired signups from the shard ``token`` went to: that shard is
        loaded anyway, so a signup costs little more, and no expiry waits for the clock."""
        cutoff = epoch(now)
        shard = self._confirm_tokens.shards[shard_of(token)]
        entries = shard.values(self._confirm_tokens.floor, excludemin=True)
        expired = [sid for sid, expires in entries if expires <= cutoff]
        return self._expire(expired[:EXPIRE_ON_SIGNUP], now)

    def _expire(self, expired, now):
        for sid in expired:
            subscriber = self._subscribers[sid]
            self._reindex(
                subscriber, index_entries(subscriber), count_keys(subscriber), gone=True
            )
            del self._subscribers[sid]
        if expired:
            self._count_day(now, "expired", len(expired))
        return len(expired)

    def erase_leavers(self, keep_days, now=None, limit=ERASE_BATCH):
        """Erase everyone who left (unsubscribed, unreachable) more than ``keep_days`` days
        ago: record, address and tokens go; the counters per state, channel and topic keep
        counting them, so figures do not change. Returns how many were erased (at most
        ``limit``; call again for the rest). Like ``delete``, the bytes leave the ZODB file
        with the next pack."""
        now = now or utcnow()
        self._index_earlier_leavers()
        cutoff = epoch(now - timedelta(days=keep_days))
        due = [sid for sid, left in self._left.items() if left <= cutoff]
        due = due[:limit]
        erased = self._erased_counts()
        for sid in due:
            subscriber = self._subscribers.get(sid)
            if subscriber is None or not subscriber.has_left:
                continue
            # Counters stay as they are (counts before = none); the tally keeps check() honest.
            self._reindex(subscriber, index_entries(subscriber), set(), gone=True)
            for key in count_keys(subscriber):
                if key not in erased:
                    erased[key] = Length()
                erased[key].change(1)
            del self._subscribers[sid]
        return len(due)

    def leavers_due(self, keep_days, now=None):
        """How many leavers ``erase_leavers(keep_days)`` would erase now (reads the index only)."""
        if self._left is None:
            return 0
        cutoff = epoch((now or utcnow()) - timedelta(days=keep_days))
        return sum(1 for left in self._left.values() if left <= cutoff)

    def _index_earlier_leavers(self):
        """Once per store made before erasure existed: index the leavers it already has."""
        if self._left_complete:
            return
        left = self._index("left")
        for sid, subscriber in self._subscribers.items():
            if subscriber.has_left and sid not in left:
                left[sid] = epoch(subscriber.left_at)
        self._left_complete = True

    def _erased_counts(self):
        if self._erased is None:
            self._erased = OOBTree()
        return self._erased

    # -- consistency -----------------------------------------------------------------------

    def check(self):
        """Compare every index and counter with the records; returns a list of problems
        (empty when consistent). Reads everything: for tests and maintenance."""
        problems = []
        expected = {name: {} for name in INDEXES}
        counts = {}
        for sid, subscriber in self._subscribers.items():
            if subscriber.id != sid:
                problems.append(f"record stored under {sid} has id {subscriber.id}")
            for name, key, value in index_entries(subscriber):
                if name in SET_INDEXES:
                    expected[name].setdefault(key, set()).add(value)
                elif key in expected[name]:
                    problems.append(f"{name}: one key belongs to two subscribers")
                else:
                    expected[name][key] = value
            for key in count_keys(subscriber):
                counts[key] = counts.get(key, 0) + 1
        for key, length in (self._erased or {}).items():
            if length():
                counts[key] = counts.get(key, 0) + length()
        for name in INDEXES:
            tree = self._index(name)
            if name in SET_INDEXES:
                actual = {key: set(members) for key, members in tree.items()}
                actual = {key: members for key, members in actual.items() if members}
            else:
                actual = dict(tree.items())
            if actual != expected[name]:
                problems.append(f"index {name} differs from the records")
        sharded = [
            self._index(name) for name in ("subscribers", *INDEXES) if name != "topics"
        ]
        sharded.extend(self._topics.values())
        if any(tree.misplaced() for tree in sharded):
            problems.append(
                "a sharded index has keys in the wrong shard or lacks its floor"
            )
        actual_counts = {
            key: length() for key, length in self._counts.items() if length()
        }
        if actual_counts != counts:
            problems.append("counters differ from the records")
        return problems

    # -- internals -------------------------------------------------------------------------

    def _index(self, name):
        if name == "left" and self._left is None:
            self._left = ShardedTree()  # a store from before erasure existed
        return getattr(self, "_" + name)

    def _unused_id(self):
        while True:
            sid = tokens.new_subscriber_id()
            if sid not in self._subscribers:
                return sid

    def _unused_confirm_token(self):
        while True:
            token = tokens.new_confirm_token()
            if token not in self._confirm_tokens:
                return token

    def _changing(self, subscriber):
        return _Reindexing(self, subscriber)

    def _reindex(self, subscriber, entries_before, counts_before, gone=False):
        """Apply the difference between what the subscriber had and what it has now."""
        entries_after = set() if gone else index_entries(subscriber)
        counts_after = set() if gone else count_keys(subscriber)
        removed = entries_before - entries_after
        added = entries_after - entries_before
        self._refuse_collisions(subscriber, added)
        # Removals first: an entry whose value changed is removed, then added anew.
        for name, key, value in removed:
            tree = self._index(name)
            if name in SET_INDEXES:
                members = tree.get(key)
                if members is not None and value in members:
                    members.remove(value)
            elif tree.get(key) == value:
                del tree[key]
        for name, key, value in added:
            tree = self._index(name)
            if name in SET_INDEXES:
                self._topic_members(key).add(value)
            else:
                tree[key] = value
        for key in counts_before - counts_after:
            self._counter(key).change(-1)
        for key in counts_after - counts_before:
            self._counter(key).change(1)
        was_recipient = any(
            name == "recipients" for name, _key, _value in entries_before
        )
        is_recipient = any(name == "recipients" for name, _key, _value in entries_after)
        if was_recipient != is_recipient:
            jar = (
                self._p_jar
            )  # its transaction manager: tests and scripts may use their own
            leavers.note(
                subscriber.id,
                was_recipient,
                jar.transaction_manager.get() if jar else None,
            )

    def _refuse_collisions(self, subscriber, added):
        """Before changing anything: a key owned by another subscriber (an address, a
        token) must not be taken over, or someone would be subscribed twice."""
        for name, key, _value in added:
            if name in SET_INDEXES or name in ("recipients", "left"):
                continue  # shared by design, or keyed by the subscriber's own id
            holder = self._index(name).get(key)
            if name == "confirm_tokens" and holder is not None:
                holder = holder[0]
            if holder is not None and holder != subscriber.id:
                raise SubscriberError(f"{name} already holds this key for {holder}.")

    def _topic_members(self, topic):
        members = self._topics.get(topic)
        if members is None:
            members = self._topics[topic] = TopicMembers()
        return members

    def _counter(self, key):
        length = self._counts.get(key)
        if length is None:
            # A topic's counters come as a set: one round of inserts instead of one per
            # channel and state, each of which could conflict with a concurrent signup.
            if key[0] == "topic":
                _kind, topic, _channel, _state = key
                for channel in CHANNELS:
                    for state in STATES:
                        self._counts.setdefault(
                            ("topic", topic, channel, state), Length()
                        )
            else:
                self._counts[key] = Length()
            length = self._counts[key]
        return length

    def _count_day(self, now, event, amount=1):
        key = (now.date().isoformat(), event)
        if key not in self._daily:
            self._prepare_days(now.date())
            if key not in self._daily:  # a back-dated day before the prepared month
                self._daily[key] = Length()
        self._daily[key].change(amount)

    def _prepare_days(self, today):
        """Day counters up to a month ahead (once ``prepare`` has run, the hot path finds
        them all; otherwise at most the first event of a month inserts them)."""
        if (
            (today + timedelta(days=DAYS_AHEAD - 1)).isoformat(),
            DAILY_EVENTS[-1],
        ) in self._daily:
            return
        for offset in range(DAYS_AHEAD):
            day = (today + timedelta(days=offset)).isoformat()
            for event in DAILY_EVENTS:
                if (day, event) not in self._daily:
                    self._daily[(day, event)] = Length()

    def _merge_into(self, existing, pending, now):
        was_active = existing.is_active
        with self._changing(existing):
            if was_active:
                existing.topics = _check_topics(existing.topics + pending.topics)
            else:
                existing.topics = pending.topics
                existing.language = pending.language
                existing.mode = pending.mode
                existing.state = ACTIVE
                existing.confirmed = now
                existing.forget("unsubscribed", "left")
            existing.consent = pending.consent
            existing.changed = now
        self._reindex(pending, index_entries(pending), count_keys(pending), gone=True)
        del self._subscribers[pending.id]
        if not was_active:
            self._count_day(now, "confirmed")
        return existing

    def _make_unreachable(self, subscriber, now):
        if subscriber is None or not subscriber.is_active:
            return None
        now = now or utcnow()
        with self._changing(subscriber):
            subscriber.state = UNREACHABLE
            subscriber.changed = subscriber.left = now
        self._count_day(now, "unreachable")
        return subscriber


class _Reindexing:
    """``with store._changing(subscriber):`` change it; indexes follow on exit."""

    def __init__(self, store, subscriber):
        self.store = store
        self.subscriber = subscriber

    def __enter__(self):
        self.entries = index_entries(self.subscriber)
        self.counts = count_keys(self.subscriber)
        return self.subscriber

    def __exit__(self, kind, error, traceback):
        if kind is None:
            self.store._reindex(self.subscriber, self.entries, self.counts)


# -- checks on input --------------------------------------------------------------------------


def _check_channel(channel):
    if channel not in CHANNELS:
        raise SubscriberError(
            f"Unknown channel {channel!r}; expected one of {CHANNELS}."
        )
    return channel


def _normalise_address(channel, address):
    if address is None:
        raise SubscriberError(f"{channel} needs an address.")
    text = str(address).strip()  # Telegram chat ids arrive as integers
    if channel == "threema":
        text = text.upper()
    if not text or len(text) > MAX_ADDRESS_LENGTH or _has_space(text):
        raise SubscriberError(f"{channel} address is empty, too long or has spaces.")
    return text


def _has_space(text):
    return any(character.isspace() for character in text)


def _check_topics(topics):
    if isinstance(topics, str):
        raise SubscriberError("Topics must be a list of topic ids, not one string.")
    topics = list(topics or ())
    for topic in topics:
        if not isinstance(topic, str) or not TOPIC_ID.match(topic):
            raise SubscriberError(f"{topic!r} is not a topic id.")
    if not topics:
        raise SubscriberError("A subscription needs at least one topic.")
    return tuple(sorted(set(topics)))


def _check_language(language):
    if (
        not isinstance(language, str)
        or not 0 < len(language) <= MAX_LANGUAGE_LENGTH
        or _has_space(language)
    ):
        raise SubscriberError(f"{language!r} is not a language code.")
    return language


def _check_mode(mode):
    if mode not in MODES:
        raise SubscriberError(
            f"Unknown delivery mode {mode!r}; expected one of {MODES}."
        )
    return mode


def _check_consent(consent, now):
    if isinstance(consent, dict):
        try:
            consent = Consent(**consent)
        except TypeError as error:
            raise SubscriberError(f"Consent needs privacy_version and path ({error}).")
    if not isinstance(consent, Consent):
        raise SubscriberError(
            "Consent must be a Consent record or a dict of its fields."
        )
    if not consent.privacy_version or not isinstance(consent.privacy_version, str):
        raise SubscriberError("Consent needs the version of the privacy text.")
    if consent.path not in CONSENT_PATHS:
        raise SubscriberError(
            f"Unknown consent path {consent.path!r}; expected {CONSENT_PATHS}."
        )
    if consent.given_at is None:
        consent = consent._replace(given_at=now)
    return consent
