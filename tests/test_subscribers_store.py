"""The subscriber store in a real Plone site: API, states, indexes and counters."""

import re
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from zope.annotation.interfaces import IAnnotations

from collective.messenger.subscribers import CodeCheck
from collective.messenger.subscribers import Consent
from collective.messenger.subscribers import get_store
from collective.messenger.subscribers import SubscriberError
from collective.messenger.subscribers.access import ANNOTATION_KEY
from collective.messenger.subscribers.indexing import INDEXES
from collective.messenger.subscribers.tokens import TOKEN_PATTERN
from collective.messenger.subscribers.trees import shard_of

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=timezone.utc)
CONSENT = Consent("2026-01", "portlet")


@pytest.fixture
def store(portal):
    store = get_store(portal)
    yield store
    # After every test: the indexes and counters agree with the records.
    assert store.check() == []


def signup(
    store, channel="telegram", topics=("baustellen-verkehr",), address=None, **kw
):
    kw.setdefault("now", NOW)
    return store.add_pending(channel, topics, "de", CONSENT, address=address, **kw)


def confirmed(store, chat, topics=("baustellen-verkehr",), channel="telegram"):
    address = None if channel in ("telegram", "whatsapp") else chat
    pending = signup(store, channel, topics, address=address)
    return store.activate(pending, address=chat if address is None else None, now=NOW)


class TestLocation:
    def test_lives_in_the_site_annotation(self, portal):
        # The install step creates it, so the first burst of signups does not.
        store = get_store(portal, create=False)
        assert store is not None
        assert IAnnotations(portal)[ANNOTATION_KEY] is store
        del IAnnotations(portal)[ANNOTATION_KEY]
        assert get_store(portal, create=False) is None
        store = get_store(portal)
        assert IAnnotations(portal)[ANNOTATION_KEY] is store
        assert get_store() is store  # the current site by default
        assert get_store(portal, create=False) is store

    def test_new_store_is_prepared_for_the_configured_topics(self, portal):
        counts = get_store(portal).counts()
        assert set(counts["topics"]) == {
            "baustellen-verkehr",
            "veranstaltungen",
            "rathaus-aktuell",
            "warnungen",
        }
        assert counts["topics"]["warnungen"] == {
            "pending": 0,
            "active": 0,
            "unsubscribed": 0,
            "unreachable": 0,
        }
        assert counts["total"] == 0

    def test_prepare_a_new_topic(self, store):
        store.prepare(["freibad"], now=NOW)
        assert store.counts()["topics"]["freibad"]["active"] == 0
        assert store.active_recipients(["freibad"]) == []
        assert store.daily(since=NOW.date(), until=NOW.date() + timedelta(days=30)) == {
            (NOW.date() + timedelta(days=n)).isoformat(): {
                "confirmed": 0,
                "unsubscribed": 0,
                "unreachable": 0,
                "expired": 0,
                "deleted": 0,
            }
            for n in range(31)
        }


class TestSignup:
    def test_pending_telegram_signup(self, store):
        subscriber = signup(
            store, topics=["warnungen", "baustellen-verkehr", "warnungen"]
        )
        assert subscriber.state == "pending"
        assert subscriber.address is None
        assert subscriber.topics == ("baustellen-verkehr", "warnungen")
        assert subscriber.mode == "immediate"
        assert subscriber.language == "de"
        assert subscriber.created == subscriber.changed == NOW
        assert subscriber.confirmed is None and subscriber.unsubscribed is None
        assert subscriber.consent == Consent("2026-01", "portlet", NOW)
        assert subscriber.confirm_expires == NOW + timedelta(hours=24)
        assert store.get(subscriber.id) is subscriber

    def test_ids_and_tokens(self, store):
        first, second = signup(store), signup(store)
        assert first.id != second.id
        assert re.fullmatch(r"[A-Za-z0-9_-]{12}", first.id)
        assert TOKEN_PATTERN.match(first.confirm_token)
        assert len(first.confirm_token) <= 64  # Telegram's start parameter
        assert TOKEN_PATTERN.match(first.manage_token)
        assert (
            len(first.manage_token) >= 22
        )  # base64url: 6 bits a character, 128 bits and more
        assert first.manage_token != first.confirm_token
        assert first.confirm_token != second.confirm_token

    def test_signal_signup_keeps_the_number(self, store):
        subscriber = signup(store, "signal", address=" +491701234567 ")
        assert subscriber.address == "+491701234567"
        # Not findable by address before the number is proven.
        assert store.by_address("signal", "+491701234567") is None

    def test_threema_ids_are_upper_case(self, store):
        assert signup(store, "threema", address="echoecho").address == "ECHOECHO"

    @pytest.mark.parametrize(
        "channel, topics, address, options",
        [
            ("sms", ["warnungen"], None, {}),
            (
                "telegram",
                ["warnungen"],
                "12345",
                {},
            ),  # Telegram learns the chat on /start
            ("signal", ["warnungen"], None, {}),
            ("signal", ["warnungen"], "", {}),
            (
                "signal",
                ["warnungen"],
                "+49 170 1234567",
                {},
            ),  # forms normalise to E.164
            ("threema", ["warnungen"], "X" * 65, {}),
            ("telegram", [], None, {}),
            ("telegram", "warnungen", None, {}),
            ("telegram", ["Not a topic"], None, {}),
            ("telegram", ["warnungen", 7], None, {}),
            ("telegram", ["warnungen"], None, {"mode": "hourly"}),
        ],
    )
    def test_refused(self, store, channel, topics, address, options):
        with pytest.raises(SubscriberError):
            signup(store, channel, topics, address=address, **options)
        assert store.counts()["total"] == 0

    @pytest.mark.parametrize(
        "consent",
        [Consent("", "page"), Consent("2026-01", "email"), {"path": "page"}, "yes"],
    )
    def test_consent_is_required(self, store, consent):
        with pytest.raises(SubscriberError):
            store.add_pending("telegram", ["warnungen"], "de", consent)

    def test_consent_as_dict(self, store):
        subscriber = store.add_pending(
            "telegram",
            ["warnungen"],
            "de",
            {"privacy_version": "v3", "path": "rest"},
            now=NOW,
        )
        assert subscriber.consent == Consent("v3", "rest", NOW)


class TestConfirmToken:
    def test_found_while_pending(self, store):
        subscriber = signup(store)
        assert store.by_confirm_token(subscriber.confirm_token, now=NOW) is subscriber

    @pytest.mark.parametrize(
        "token", ["", "unknown", "x" * 65, "a b", "ä", None, 42, ("a",)]
    )
    def test_unknown_or_malformed(self, store, token):
        signup(store)
        assert store.by_confirm_token(token) is None

    def test_expired_after_24_hours(self, store):
        subscriber = signup(store)
        token = subscriber.confirm_token
        just_in_time = NOW + timedelta(hours=23, minutes=59)
        assert store.by_confirm_token(token, now=just_in_time) is subscriber
        assert store.by_confirm_token(token, now=NOW + timedelta(hours=24)) is None

    def test_used_token_is_gone(self, store):
        subscriber = signup(store)
        token = subscriber.confirm_token
        store.activate(subscriber, address=1001, now=NOW)
        assert store.by_confirm_token(token, now=NOW) is None
        assert subscriber.confirm_token is None


class TestActivate:
    def test_telegram_activation(self, store):
        pending = signup(store, topics=["warnungen", "rathaus-aktuell"])
        later = NOW + timedelta(minutes=3)
        subscriber = store.activate(pending, address=123456789, now=later)
        assert subscriber is pending
        assert subscriber.state == "active"
        assert subscriber.address == "123456789"
        assert subscriber.confirmed == subscriber.changed == later
        assert store.by_address("telegram", 123456789) is subscriber
        assert store.by_address("telegram", "123456789") is subscriber
        assert store.by_manage_token(subscriber.manage_token) is subscriber
        assert store.active_recipients(["warnungen"]) == [
            (subscriber.id, "telegram", "123456789", "de")
        ]
        assert store.counts()["states"]["active"] == 1
        assert store.daily(until=NOW.date()) == {
            "2026-05-04": {
                "confirmed": 1,
                "unsubscribed": 0,
                "unreachable": 0,
                "expired": 0,
                "deleted": 0,
            }
        }

    def test_manage_token_only_after_confirmation(self, store):
        pending = signup(store)
        assert store.by_manage_token(pending.manage_token) is None

    def test_telegram_needs_the_chat(self, store):
        pending = signup(store)
        with pytest.raises(SubscriberError):
            store.activate(pending)
        assert pending.state == "pending"

    def test_signal_activates_with_its_number(self, store):
        pending = signup(store, "signal", address="+491701234567")
        assert store.activate(pending, now=NOW).address == "+491701234567"
        assert store.by_address("signal", "+491701234567") is pending

    def test_signal_refuses_another_number(self, store):
        pending = signup(store, "signal", address="+491701234567")
        with pytest.raises(SubscriberError):
            store.activate(pending, address="+491709999999")

    def test_again_changes_nothing(self, store):
        subscriber = confirmed(store, 1001)
        assert store.activate(subscriber, address=1001) is subscriber
        with pytest.raises(SubscriberError):
            store.activate(subscriber, address=1002)
        assert store.counts()["total"] == 1

    def test_second_signup_merges_into_the_active_subscriber(self, store):
        first = confirmed(store, 1001, topics=["warnungen"])
        pending = store.add_pending(
            "telegram", ["freibad"], "de", Consent("2026-02", "page"), now=NOW
        )
        survivor = store.activate(pending, address=1001, now=NOW + timedelta(hours=1))
        assert survivor is first
        assert survivor.topics == ("freibad", "warnungen")
        assert survivor.consent.privacy_version == "2026-02"
        assert store.get(pending.id) is None
        assert store.by_confirm_token(pending.confirm_token) is None
        assert store.counts()["total"] == 1
        assert store.active_recipients(["freibad", "warnungen"]) == [
            (first.id, "telegram", "1001", "de")
        ]

    def test_same_number_signed_up_twice_is_subscribed_once(self, store):
        one = signup(store, "signal", ["warnungen"], address="+491701234567")
        two = signup(store, "signal", ["freibad"], address="+491701234567")
        assert store.activate(two, now=NOW) is two
        assert store.activate(one, now=NOW) is two
        assert two.topics == ("freibad", "warnungen")
        assert store.counts()["states"] == {
            "pending": 0,
            "active": 1,
            "unsubscribed": 0,
            "unreachable": 0,
        }

    def test_comeback_after_unsubscribing_reuses_the_record(self, store):
        old = confirmed(store, 1001, topics=["warnungen", "freibad"])
        store.unsubscribe(old, now=NOW)
        pending = store.add_pending(
            "telegram", ["rathaus-aktuell"], "en", CONSENT, mode="daily"
        )
        survivor = store.activate(pending, address=1001, now=NOW + timedelta(days=2))
        assert survivor is old
        assert survivor.state == "active"
        assert survivor.topics == (
            "rathaus-aktuell",
        )  # they left: the old topics are gone
        assert (survivor.language, survivor.mode) == ("en", "daily")
        assert survivor.unsubscribed is None
        assert survivor.confirmed == NOW + timedelta(days=2)

    def test_unsubscribed_cannot_be_activated_directly(self, store):
        subscriber = confirmed(store, 1001)
        store.unsubscribe(subscriber)
        with pytest.raises(SubscriberError):
            store.activate(subscriber, address=1001)


class TestChanges:
    def test_set_topics(self, store):
        subscriber = confirmed(store, 1001, topics=["warnungen"])
        store.set_topics(
            subscriber, ["freibad", "rathaus-aktuell"], now=NOW + timedelta(days=1)
        )
        assert subscriber.topics == ("freibad", "rathaus-aktuell")
        assert subscriber.changed == NOW + timedelta(days=1)
        assert store.active_recipients(["warnungen"]) == []
        assert [r[0] for r in store.active_recipients(["freibad"])] == [subscriber.id]
        counts = store.counts()["topics"]
        assert counts["warnungen"]["active"] == 0
        assert counts["freibad"]["active"] == 1

    def test_no_topics_is_not_a_subscription(self, store):
        subscriber = confirmed(store, 1001)
        with pytest.raises(SubscriberError):
            store.set_topics(subscriber, [])

    def test_topics_of_a_pending_signup(self, store):
        pending = signup(store, topics=["warnungen"])
        store.set_topics(pending, ["freibad"])
        assert store.counts()["topics"]["freibad"]["pending"] == 1
        assert store.active_recipients(["freibad"]) == []

    def test_set_mode(self, store):
        subscriber = confirmed(store, 1001)
        store.set_mode(subscriber, "weekly")
        assert store.active_recipients(["baustellen-verkehr"]) == []
        assert store.active_recipients(["baustellen-verkehr"], mode="weekly") == [
            (subscriber.id, "telegram", "1001", "de")
        ]
        with pytest.raises(SubscriberError):
            store.set_mode(subscriber, "monthly")

    def test_set_language(self, store):
        subscriber = confirmed(store, 1001)
        store.set_language(subscriber, "en")
        assert store.active_recipients(["baustellen-verkehr"])[0][3] == "en"


class TestLeaving:
    def test_unsubscribe(self, store):
        subscriber = confirmed(store, 1001)
        later = NOW + timedelta(days=3)
        assert store.unsubscribe(subscriber, now=later) is subscriber
        assert subscriber.state == "unsubscribed"
        assert subscriber.unsubscribed == later
        assert store.active_recipients(["baustellen-verkehr"]) == []
        # The manage page still finds them (to come back or delete their data).
        assert store.by_manage_token(subscriber.manage_token) is subscriber
        assert store.by_address("telegram", 1001) is subscriber
        assert store.counts()["states"]["unsubscribed"] == 1
        assert store.daily()["2026-05-07"]["unsubscribed"] == 1
        assert (
            store.unsubscribe(subscriber, now=later) is subscriber
        )  # twice: no change
        assert store.daily()["2026-05-07"]["unsubscribed"] == 1

    def test_unsubscribing_a_pending_signup_deletes_it(self, store):
        pending = signup(store)
        assert store.unsubscribe(pending) is None
        assert store.get(pending.id) is None
        assert store.counts()["total"] == 0

    def test_mark_unreachable_by_address(self, store):
        subscriber = confirmed(store, 1001)
        assert store.mark_unreachable("telegram", "1001", now=NOW) is subscriber
        assert subscriber.state == "unreachable"
        assert store.active_recipients(["baustellen-verkehr"]) == []
        assert store.mark_unreachable("telegram", "1001") is None  # already
        assert store.mark_unreachable("telegram", "999") is None  # unknown
        assert store.mark_unreachable("signal", "1001") is None  # another channel

    def test_mark_unreachable_by_id(self, store):
        subscriber = confirmed(store, "+491701234567", channel="signal")
        assert store.mark_unreachable_by_id(subscriber.id) is subscriber
        assert store.counts()["channels"]["signal"]["unreachable"] == 1
        assert store.mark_unreachable_by_id("nobody") is None

    def test_unsubscribed_stays_unsubscribed_when_unreachable(self, store):
        subscriber = confirmed(store, 1001)
        store.unsubscribe(subscriber)
        assert store.mark_unreachable("telegram", 1001) is None
        assert subscriber.state == "unsubscribed"

    def test_unreachable_can_unsubscribe(self, store):
        subscriber = confirmed(store, 1001)
        store.mark_unreachable("telegram", 1001)
        store.unsubscribe(subscriber)
        assert subscriber.state == "unsubscribed"

    @pytest.mark.parametrize(
        "state", ["pending", "active", "unsubscribed", "unreachable"]
    )
    def test_delete_erases_everything(self, store, state):
        other = confirmed(store, 2002, topics=["warnungen"])
        subscriber = signup(
            store, "signal", ["warnungen", "freibad"], address="+491701234567"
        )
        if state != "pending":
            store.activate(subscriber, now=NOW)
        if state == "unsubscribed":
            store.unsubscribe(subscriber)
        if state == "unreachable":
            store.mark_unreachable_by_id(subscriber.id)
        assert store.delete(subscriber) is True
        assert store.get(subscriber.id) is None
        assert store.by_address("signal", "+491701234567") is None
        assert store.by_manage_token(subscriber.manage_token) is None
        assert store.active_recipients(["warnungen", "freibad"]) == [
            (other.id, "telegram", "2002", "de")
        ]
        assert store.counts()["total"] == 1
        assert store.delete(subscriber) is False  # already gone
        # No index keeps the id or the number.
        for name in INDEXES:
            if name == "topics":
                entries = [list(members) for members in store._index(name).values()]
            else:
                entries = list(store._index(name).items())
            assert subscriber.id not in repr(entries) and "+491701234567" not in repr(
                entries
            )


class TestCheck:
    def test_check_finds_a_stray_index_entry(self, store):
        subscriber = confirmed(store, 1001)
        store._index("manage_tokens")["stray-token"] = subscriber.id
        assert store.check() == ["index manage_tokens differs from the records"]
        del store._index("manage_tokens")["stray-token"]

    def test_check_finds_a_wrong_counter(self, store):
        confirmed(store, 1001)
        store._counts[("channel", "telegram", "active")].change(1)
        assert store.check() == ["counters differ from the records"]
        store._counts[("channel", "telegram", "active")].change(-1)

    def test_check_finds_a_key_in_the_wrong_shard(self, store):
        subscriber = confirmed(store, 1001)
        shards = store._index("recipients").shards
        value = store._index("recipients")[subscriber.id]
        wrong = shards[(shard_of(subscriber.id) + 1) % len(shards)]
        wrong[subscriber.id] = value
        assert (
            "a sharded index has keys in the wrong shard or lacks its floor"
            in store.check()
        )
        del wrong[subscriber.id]


class TestFanOut:
    def test_union_of_topics_lists_everyone_once(self, store):
        both = confirmed(store, 1001, topics=["warnungen", "freibad"])
        one = confirmed(store, "+491701234567", topics=["freibad"], channel="signal")
        confirmed(store, 3003, topics=["rathaus-aktuell"])
        signup(store, topics=["warnungen"])  # pending: not a recipient
        gone = confirmed(store, 4004, topics=["warnungen"])
        store.unsubscribe(gone)
        recipients = store.active_recipients(["warnungen", "freibad", "unknown-topic"])
        assert sorted(recipients) == sorted([
            (both.id, "telegram", "1001", "de"),
            (one.id, "signal", "+491701234567", "de"),
        ])

    def test_nothing_for_no_topics(self, store):
        confirmed(store, 1001)
        assert store.active_recipients([]) == []
        assert store.active_recipients(["nobody-follows-this"]) == []


class TestCounts:
    def test_counts_per_state_channel_and_topic(self, store):
        confirmed(store, 1001, topics=["warnungen", "freibad"])
        confirmed(store, 1002, topics=["warnungen"], channel="whatsapp")
        signup(store, "threema", ["freibad"], address="ECHOECHO")
        left = confirmed(store, 1003, topics=["freibad"])
        store.unsubscribe(left)
        counts = store.counts()
        assert counts["total"] == 4
        assert counts["states"] == {
            "pending": 1,
            "active": 2,
            "unsubscribed": 1,
            "unreachable": 0,
        }
        assert counts["channels"]["telegram"] == {
            "pending": 0,
            "active": 1,
            "unsubscribed": 1,
            "unreachable": 0,
        }
        assert counts["topics"]["warnungen"]["active"] == 2
        assert counts["topics"]["freibad"] == {
            "pending": 1,
            "active": 1,
            "unsubscribed": 1,
            "unreachable": 0,
        }
        assert counts["topic_channels"]["warnungen"]["whatsapp"]["active"] == 1

    def test_counts_never_show_addresses(self, store):
        confirmed(store, 987654321)
        confirmed(store, "+491701234567", channel="signal")
        text = repr(store.counts()) + repr(store.daily())
        assert "987654321" not in text and "1701234567" not in text


class TestExpiry:
    def test_expire_pending(self, store):
        old = signup(store, now=NOW)
        fresh = signup(
            store, "signal", address="+491701234567", now=NOW + timedelta(hours=12)
        )
        active = confirmed(store, 1001)
        assert store.expire_pending(now=NOW + timedelta(hours=23)) == 0
        assert store.expire_pending(now=NOW + timedelta(hours=24)) == 1
        assert store.get(old.id) is None
        assert store.get(fresh.id) is fresh
        assert store.get(active.id) is active
        assert store.daily()["2026-05-05"]["expired"] == 1
        assert store.expire_pending(now=NOW + timedelta(days=3)) == 1
        assert store.counts()["states"]["pending"] == 0

    def test_pending_lists_pending_records_only(self, store):
        first = signup(store, now=NOW)
        second = signup(store, "signal", address="+491701234567", now=NOW)
        confirmed(store, 1001)
        assert {s.id for s in store.pending()} == {first.id, second.id}

    def test_back_dated_event_before_the_prepared_month_is_counted(self, store):
        store.expire_pending(
            now=NOW + timedelta(days=10)
        )  # prepares a month from day 10
        old = signup(store, now=NOW)
        store.delete(old, now=NOW)
        assert store.daily()[NOW.date().isoformat()]["deleted"] == 1


class TestCodes:
    @pytest.fixture
    def pending(self, store):
        return signup(store, "signal", address="+491701234567")

    def test_code_confirms_the_number(self, store, pending):
        code = store.issue_code(pending, now=NOW)
        assert re.fullmatch(r"\d{6}", code)
        assert (
            store.verify_code(pending, code, now=NOW + timedelta(minutes=14))
            == CodeCheck.OK
        )
        assert store.activate(pending).state == "active"
        assert store.verify_code(pending, code) == CodeCheck.MISSING  # used up

    def test_code_is_stored_hashed(self, pending, store):
        code = store.issue_code(pending, now=NOW)
        stored = pending.code
        assert code not in repr(pending.__getstate__()).replace(repr(stored.digest), "")
        assert len(stored.digest) == 32 and stored.salt

    def test_five_attempts(self, store, pending):
        code = store.issue_code(pending, now=NOW)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(4):
            assert store.verify_code(pending, wrong, now=NOW) == CodeCheck.WRONG
        assert store.verify_code(pending, wrong, now=NOW) == CodeCheck.EXHAUSTED
        assert store.verify_code(pending, code, now=NOW) == CodeCheck.EXHAUSTED
        assert pending.code.attempts == 5

    def test_fifteen_minutes(self, store, pending):
        code = store.issue_code(pending, now=NOW)
        too_late = NOW + timedelta(minutes=15)
        assert store.verify_code(pending, code, now=too_late) == CodeCheck.EXPIRED

    def test_new_code_replaces_the_old(self, store, pending):
        first = store.issue_code(pending, now=NOW)
        second = store.issue_code(pending, now=NOW)
        if first != second:
            assert store.verify_code(pending, first, now=NOW) == CodeCheck.WRONG
        assert store.verify_code(pending, second, now=NOW) == CodeCheck.OK

    @pytest.mark.parametrize("code", ["", None, "12345", "1234567", "abcdef", 123456])
    def test_junk_is_wrong(self, store, pending, code):
        store.issue_code(pending, now=NOW)
        assert store.verify_code(pending, code, now=NOW) == CodeCheck.WRONG

    def test_without_code(self, store, pending):
        assert store.verify_code(pending, "123456") == CodeCheck.MISSING

    def test_only_for_numbers_typed_on_the_site(self, store):
        with pytest.raises(SubscriberError):
            store.issue_code(signup(store, "telegram"))
        active = confirmed(store, "+491701234567", channel="signal")
        with pytest.raises(SubscriberError):
            store.issue_code(active)


class TestIdempotentSignup:
    def test_same_request_twice_gives_one_subscriber(self, store):
        first = signup(store, request_key="nonce-1")
        again = signup(store, request_key="nonce-1")
        assert again is first
        assert store.counts()["total"] == 1

    def test_reused_key_with_other_data_is_another_signup(self, store):
        first = signup(store, "signal", address="+491701234567", request_key="nonce-1")
        other = signup(store, "signal", address="+491709999999", request_key="nonce-1")
        assert other is not first
        assert store.counts()["total"] == 2

    def test_key_is_forgotten_once_confirmed(self, store):
        first = signup(store, request_key="nonce-1")
        store.activate(first, address=1001)
        assert not list(store._index("signup_keys").keys())


class TestExpiryOnSignup:
    """The belt to the housekeeping clock: a signup expires expired signups near its token."""

    def test_a_signup_expires_an_expired_signup_in_its_shard(self, store):
        old = signup(store, now=NOW)
        later = NOW + timedelta(hours=25)
        shard = shard_of(old.confirm_token)
        # Sign up until one token lands in the old signup's shard (1 in 64 each time).
        for _ in range(2000):
            new = signup(store, now=later)
            if shard_of(new.confirm_token) == shard:
                break
        assert store.get(old.id) is None
        assert store.by_confirm_token(old.confirm_token, now=NOW) is None
        assert store.daily()["2026-05-05"]["expired"] == 1

    def test_a_signup_leaves_signups_that_are_still_valid(self, store):
        old = signup(store, now=NOW)
        for _ in range(200):
            signup(store, now=NOW + timedelta(hours=23))
        assert store.get(old.id) is old


class TestRetention:
    """Who left is erased after N days; only the counters remember them."""

    def test_leavers_are_erased_after_the_days_kept(self, store):
        stays = confirmed(store, 1001, topics=["warnungen"])
        left = confirmed(
            store, "+491701234567", topics=["warnungen", "freibad"], channel="signal"
        )
        store.unsubscribe(left, now=NOW)
        blocked = confirmed(store, 3003)
        store.mark_unreachable_by_id(blocked.id, now=NOW + timedelta(days=2))
        counts_before = store.counts()

        assert store.erase_leavers(30, now=NOW + timedelta(days=29, hours=23)) == 0
        assert store.leavers_due(30, now=NOW + timedelta(days=30)) == 1
        assert store.erase_leavers(30, now=NOW + timedelta(days=30)) == 1
        assert store.get(left.id) is None
        assert store.by_address("signal", "+491701234567") is None
        assert store.by_manage_token(left.manage_token) is None
        assert (
            store.get(blocked.id) is blocked
        )  # left two days later: kept two days longer
        assert store.erase_leavers(30, now=NOW + timedelta(days=32)) == 1
        assert store.get(blocked.id) is None
        assert store.get(stays.id) is stays
        # Only counts are kept: per state, channel and topic exactly as before.
        assert store.counts() == counts_before
        for name in INDEXES:
            tree = store._index(name)
            entries = (
                [list(v) for v in tree.values()]
                if name == "topics"
                else list(tree.items())
            )
            assert left.id not in repr(entries) and "1701234567" not in repr(entries)
            assert blocked.id not in repr(entries)

    def test_coming_back_in_time_keeps_the_record(self, store):
        subscriber = confirmed(store, 1001)
        store.unsubscribe(subscriber, now=NOW)
        again = store.add_pending(
            "telegram", ["warnungen"], "de", CONSENT, now=NOW + timedelta(days=10)
        )
        assert (
            store.activate(again, address=1001, now=NOW + timedelta(days=10))
            is subscriber
        )
        assert store.erase_leavers(30, now=NOW + timedelta(days=60)) == 0
        assert store.get(subscriber.id).is_active

    def test_zero_days_erases_at_once(self, store):
        subscriber = confirmed(store, 1001)
        store.unsubscribe(subscriber, now=NOW)
        assert store.erase_leavers(0, now=NOW) == 1

    def test_in_batches(self, store):
        for chat in range(5):
            store.unsubscribe(confirmed(store, 5000 + chat), now=NOW)
        assert store.erase_leavers(1, now=NOW + timedelta(days=1), limit=3) == 3
        assert store.erase_leavers(1, now=NOW + timedelta(days=1), limit=3) == 2
        assert store.counts()["states"]["unsubscribed"] == 5

    def test_a_store_from_before_erasure_indexes_its_leavers_once(self, store):
        kept = confirmed(store, 1001)
        store.unsubscribe(kept, now=NOW + timedelta(days=20))
        old = confirmed(store, 1002)
        store.unsubscribe(old, now=NOW)
        # As stored by the previous version: no "left" index, no "left" date on records.
        del store._left, store._left_complete, store._erased
        for record in (kept, old):
            record.forget("left")
        assert store.erase_leavers(30, now=NOW + timedelta(days=31)) == 1
        assert store.get(old.id) is None and store.get(kept.id) is kept
        assert store._left_complete
