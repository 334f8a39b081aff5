"""Concurrent signups on one ZODB: nothing lost, no ConflictError reaches the citizen.

Each thread has its own connection to one FileStorage database (FileStorage, unlike
MappingStorage, runs conflict resolution, as Plone's storages do). Every thread changes its
copy first and then all commit at once, the worst case: all transactions start from the same
state. A thread retries on ConflictError as Zope does with a request (once plus up to three
retries); the citizen would see an error only if all four attempts failed.
"""

import threading

import pytest
import transaction
from persistent.mapping import PersistentMapping
from ZODB import DB
from ZODB.FileStorage import FileStorage
from ZODB.POSException import ConflictError

from collective.messenger.subscribers import Consent
from collective.messenger.subscribers import SubscriberStore

ZOPE_ATTEMPTS = (
    4  # Zope's publisher: the request, then up to 3 retries on ConflictError
)
CONSENT = Consent("2026-01", "page")
THREADS = 50
TOPICS = ["baustellen-verkehr", "warnungen", "freibad", "rathaus-aktuell"]


@pytest.fixture
def db(tmp_path):
    database = DB(FileStorage(str(tmp_path / "Data.fs")), pool_size=THREADS + 10)
    with database.transaction() as connection:
        store = connection.root()["store"] = SubscriberStore()
        store.prepare(TOPICS)  # as get_store() does when it creates the store
        connection.root()["elsewhere"] = PersistentMapping()
    yield database
    database.close()


def run_like_zope(tm, work):
    """Run ``work(attempt)`` and commit, retrying on ConflictError like Zope's publisher;
    returns (result, attempts used)."""
    for attempt in range(1, ZOPE_ATTEMPTS + 1):
        tm.begin()
        try:
            result = work(attempt)
            tm.commit()
            return result, attempt
        except ConflictError:
            tm.abort()
            if attempt == ZOPE_ATTEMPTS:
                raise


def in_parallel(db, count, change):
    """``change(store, n)`` in ``count`` threads, each on its own connection, committing
    together; returns [(result, attempts)] in thread order. Raises the first error."""
    barrier = threading.Barrier(count)
    results = [None] * count
    errors = []

    def thread(n):
        tm = transaction.TransactionManager()
        connection = db.open(transaction_manager=tm)
        try:

            def work(attempt):
                value = change(connection.root()["store"], n)
                if attempt == 1:
                    barrier.wait(
                        timeout=120
                    )  # everyone has changed their copy: commit now
                return value

            results[n] = run_like_zope(tm, work)
        except BaseException as error:  # reported below, with the thread's number
            errors.append((n, error))
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=thread, args=(n,)) for n in range(count)]
    for each in threads:
        each.start()
    for each in threads:
        each.join(timeout=240)
    assert not errors, [(n, str(e)) for n, e in errors[:3]]
    return results


def read_store(db):
    connection = db.open()
    return connection, connection.root()["store"]


def prefill(db, count, topics=("warnungen",)):
    """``count`` active Telegram subscribers, so that signups land in full buckets."""
    with db.transaction() as connection:
        store = connection.root()["store"]
        for n in range(count):
            pending = store.add_pending("telegram", list(topics), "de", CONSENT)
            store.activate(pending, address=10_000_000 + n)


@pytest.mark.parametrize("existing", [0, 2000], ids=["fresh site", "2000 subscribers"])
def test_fifty_concurrent_signups_lose_nothing(db, existing):
    prefill(db, existing)

    def sign_up(store, n):
        channel = ("telegram", "whatsapp", "signal", "threema")[n % 4]
        address = None
        if channel == "signal":
            address = f"+4917012345{n:02d}"
        elif channel == "threema":
            address = f"ECHO{n:04d}"
        topics = [TOPICS[1 + n % 3], "baustellen-verkehr"]
        return store.add_pending(channel, topics, "de", CONSENT, address=address).id

    results = in_parallel(db, THREADS, sign_up)

    ids = [result for result, _attempts in results]
    assert len(set(ids)) == THREADS
    assert max(attempts for _result, attempts in results) <= ZOPE_ATTEMPTS
    connection, store = read_store(db)
    assert all(store.get(sid).is_pending for sid in ids)
    counts = store.counts()
    assert counts["states"]["pending"] == THREADS
    assert counts["total"] == THREADS + existing
    assert counts["topics"]["baustellen-verkehr"]["pending"] == THREADS
    assert store.check() == []
    connection.close()


def test_fifty_concurrent_confirmations(db):
    prefill(db, 500)
    with db.transaction() as connection:
        store = connection.root()["store"]
        pending = [
            store.add_pending("telegram", ["warnungen", "freibad"], "de", CONSENT).id
            for _ in range(THREADS)
        ]

    def confirm(store, n):
        return store.activate(store.get(pending[n]), address=20_000_000 + n).id

    results = in_parallel(db, THREADS, confirm)

    assert [result for result, _attempts in results] == pending
    connection, store = read_store(db)
    assert len(store.active_recipients(["freibad"])) == THREADS
    assert len(store.active_recipients(["warnungen"])) == THREADS + 500
    assert store.counts()["states"]["pending"] == 0
    assert store.check() == []
    connection.close()


def test_one_chat_confirming_two_signups_at_once_is_subscribed_once(db):
    with db.transaction() as connection:
        store = connection.root()["store"]
        first = store.add_pending("telegram", ["warnungen"], "de", CONSENT).id
        second = store.add_pending("telegram", ["freibad"], "de", CONSENT).id

    def confirm(store, n):
        return store.activate(store.get((first, second)[n]), address=4242).id

    results = in_parallel(db, 2, confirm)

    survivors = {result for result, _attempts in results}
    assert len(survivors) == 1
    connection, store = read_store(db)
    survivor = store.by_address("telegram", 4242)
    assert survivors == {survivor.id}
    assert survivor.topics == ("freibad", "warnungen")
    assert store.counts()["total"] == 1
    assert store.check() == []
    connection.close()


def test_conflict_retry_of_a_signup_stores_one_subscriber(db):
    """The request's first commit fails (another request changed an object it changed as
    well); Zope runs it again. The first attempt's subscriber vanished with its transaction;
    the second attempt stores exactly one."""
    tm = transaction.TransactionManager()
    connection = db.open(transaction_manager=tm)
    seen = []

    def request(attempt):
        root = connection.root()
        subscriber = root["store"].add_pending(
            "telegram", ["warnungen"], "de", CONSENT, request_key="form-nonce-7f3a"
        )
        seen.append(subscriber.id)
        root["elsewhere"]["last_signup"] = (
            attempt  # e.g. a page counter, not resolvable
        )
        if attempt == 1:
            with db.transaction() as other:
                other.root()["elsewhere"]["last_signup"] = "another request"
        return subscriber.id

    stored_id, attempts = run_like_zope(tm, request)

    assert attempts == 2
    assert len(seen) == 2
    reader, store = read_store(db)
    assert store.counts()["total"] == 1
    assert store.get(stored_id) is not None
    assert store.check() == []
    reader.close()
    connection.close()


def test_signup_replayed_after_its_commit_returns_the_first_subscriber(db):
    """The commit succeeded but the answer never reached the browser, which sends the
    form again with the same nonce: still one subscriber."""
    tm = transaction.TransactionManager()
    connection = db.open(transaction_manager=tm)

    def request(attempt):
        store = connection.root()["store"]
        return store.add_pending(
            "signal",
            ["warnungen"],
            "de",
            CONSENT,
            address="+491701234567",
            request_key="form-nonce-7f3a",
        ).id

    first, _ = run_like_zope(tm, request)
    again, _ = run_like_zope(tm, request)

    assert again == first
    reader, store = read_store(db)
    assert store.counts()["total"] == 1
    reader.close()
    connection.close()


def test_double_submission_at_the_same_moment_stores_one_subscriber(db):
    """A double click: the same form with the same nonce, twice in parallel. Both insert
    the same signup key, so one commit conflicts, and its retry finds the first."""

    def sign_up(store, n):
        return store.add_pending(
            "telegram", ["warnungen"], "de", CONSENT, request_key="form-nonce-7f3a"
        ).id

    results = in_parallel(db, 5, sign_up)

    assert len({result for result, _attempts in results}) == 1
    reader, store = read_store(db)
    assert store.counts()["total"] == 1
    assert store.check() == []
    reader.close()


def test_a_signup_writes_no_shared_object(db):
    """What makes the above work: a signup (and a confirmation) changes only new objects,
    counters (merged by conflict resolution) and shard trees and buckets keyed at random,
    never the store, its shard lists or its counter and topic tables."""
    prefill(db, 300)
    tm = transaction.TransactionManager()
    connection = db.open(transaction_manager=tm)
    store = connection.root()["store"]
    shared = [
        store,
        store._topics,
        store._counts,
        store._daily,
        store._subscribers,
        store._recipients,
        store._addresses,
        store._confirm_tokens,
        store._manage_tokens,
        store._signup_keys,
        *store._topics.values(),
    ]

    tm.begin()
    pending = store.add_pending(
        "telegram", ["warnungen"], "de", CONSENT, request_key="n-1"
    )
    assert [o for o in shared if o._p_changed] == []
    store.activate(pending, address=777)
    assert [o for o in shared if o._p_changed] == []
    changed = {type(o).__name__ for o in connection._registered_objects}
    assert changed <= {
        "Subscriber",
        "Length",
        "OOBTree",
        "OOBucket",
        "LargeBucketTree",
        "LargeBucketTreeSet",
        "OOSet",
        "OOTreeSet",
    }
    tm.abort()
    connection.close()
