"""Random sequences of signups, confirmations, changes and departures never leave the
indexes, counters or fan-out out of step with the records (hypothesis state machine on a
store outside the ZODB; the BTrees behave the same without a database)."""

import itertools
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant
from hypothesis.stateful import precondition
from hypothesis.stateful import rule
from hypothesis.stateful import RuleBasedStateMachine

from collective.messenger.subscribers import CodeCheck
from collective.messenger.subscribers import Consent
from collective.messenger.subscribers import SubscriberStore
from collective.messenger.subscribers import tokens
from collective.messenger.subscribers.trees import shard_of
from collective.messenger.subscribers.trees import SHARDS

TOPICS = ["baustellen-verkehr", "warnungen", "freibad", "rathaus-aktuell"]
CHANNELS = ["telegram", "whatsapp", "signal", "threema"]
# Few addresses, so that the same person signs up again, merges and comes back.
ADDRESSES = {
    "telegram": ["1001", "1002", "1003"],
    "whatsapp": ["4917011", "4917022"],
    "signal": ["+491701", "+491702"],
    "threema": ["ECHOECHO", "ABCDEFGH"],
}
START = datetime(2026, 5, 4, 8, 0, tzinfo=timezone.utc)

topic_lists = st.lists(st.sampled_from(TOPICS), min_size=1, max_size=3)


class StoreMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.store = SubscriberStore()
        self.now = START
        # Ids in creation order, so that hypothesis can replay and shrink a run.
        numbers = itertools.count()
        self.random_id = tokens.new_subscriber_id
        tokens.new_subscriber_id = lambda: f"sub{next(numbers):09d}"

    def teardown(self):
        tokens.new_subscriber_id = self.random_id

    def records(self):
        return sorted(self.store._subscribers.values(), key=lambda s: s.id)

    def pick(self, data, state=None):
        candidates = [s for s in self.records() if state is None or s.state == state]
        return data.draw(st.sampled_from(candidates)) if candidates else None

    @rule(
        channel=st.sampled_from(CHANNELS),
        topics=topic_lists,
        data=st.data(),
        mode=st.sampled_from(["immediate", "daily"]),
        key=st.sampled_from([None, "n1", "n2"]),
    )
    def sign_up(self, channel, topics, data, mode, key):
        address = None
        if channel in ("signal", "threema"):
            address = data.draw(st.sampled_from(ADDRESSES[channel]))
        self.store.add_pending(
            channel,
            topics,
            "de",
            Consent("v1", "page"),
            address=address,
            mode=mode,
            request_key=key,
            now=self.now,
        )

    @rule(data=st.data())
    def confirm(self, data):
        pending = self.pick(data, "pending")
        if pending is None:
            return
        address = None
        if pending.address is None:
            address = data.draw(st.sampled_from(ADDRESSES[pending.channel]))
        survivor = self.store.activate(pending, address=address, now=self.now)
        assert survivor.is_active

    @rule(data=st.data())
    def confirm_with_code(self, data):
        pending = self.pick(data, "pending")
        if pending is None or pending.channel not in ("signal", "threema"):
            return
        code = self.store.issue_code(pending, now=self.now)
        assert self.store.verify_code(pending, code, now=self.now) == CodeCheck.OK
        self.store.activate(pending, now=self.now)

    @rule(data=st.data(), topics=topic_lists)
    def change_topics(self, data, topics):
        subscriber = self.pick(data)
        if subscriber is not None:
            self.store.set_topics(subscriber, topics, now=self.now)

    @rule(data=st.data(), mode=st.sampled_from(["immediate", "daily", "weekly"]))
    def change_mode(self, data, mode):
        subscriber = self.pick(data)
        if subscriber is not None:
            self.store.set_mode(subscriber, mode, now=self.now)

    @rule(data=st.data())
    def leave(self, data):
        subscriber = self.pick(data)
        if subscriber is not None:
            self.store.unsubscribe(subscriber, now=self.now)

    @rule(channel=st.sampled_from(CHANNELS), data=st.data())
    def gone(self, channel, data):
        self.store.mark_unreachable(
            channel, data.draw(st.sampled_from(ADDRESSES[channel])), now=self.now
        )

    @rule(data=st.data())
    def erase(self, data):
        subscriber = self.pick(data)
        if subscriber is not None:
            assert self.store.delete(subscriber, now=self.now)

    @precondition(lambda self: self.now < START + timedelta(days=5))
    @rule(hours=st.integers(min_value=1, max_value=30))
    def time_passes(self, hours):
        self.now += timedelta(hours=hours)
        self.store.expire_pending(now=self.now)

    @rule(days=st.integers(min_value=0, max_value=2))
    def retention(self, days):
        counts = self.store.counts()
        self.store.erase_leavers(days, now=self.now)
        assert self.store.counts() == counts  # erasure keeps the counts

    @invariant()
    def indexes_match_records(self):
        assert self.store.check() == []

    @invariant()
    def nobody_is_subscribed_twice(self):
        seen = [(s.channel, s.address) for s in self.records() if not s.is_pending]
        assert len(seen) == len(set(seen))

    @invariant()
    def fan_out_matches_records(self):
        for mode in ("immediate", "daily"):
            expected = sorted(
                (s.id, s.channel, s.address, s.language)
                for s in self.records()
                if s.is_active
                and s.mode == mode
                and set(s.topics) & {"warnungen", "freibad"}
            )
            assert (
                sorted(self.store.active_recipients(["warnungen", "freibad"], mode))
                == expected
            )

    @invariant()
    def counts_match_records(self):
        counts = self.store.counts()
        assert counts["total"] == len(self.records())
        for state in ("pending", "active", "unsubscribed", "unreachable"):
            assert counts["states"][state] == sum(
                s.state == state for s in self.records()
            )


TestStoreMachine = StoreMachine.TestCase
TestStoreMachine.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_shard_function_never_changes():
    # Stored stores depend on it: another function would hide every stored key.
    keys = ("a", "abc", "Zm9vYmFy", ("telegram", "1001"))
    assert [shard_of(key) for key in keys] == [3, 2, 8, 24]
    assert SHARDS == 64
