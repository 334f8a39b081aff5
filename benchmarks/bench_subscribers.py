"""Subscriber store: fan-out snapshot time and ZODB size per subscriber.

    .venv/bin/python benchmarks/bench_subscribers.py            # 100,000 active subscribers
    .venv/bin/python benchmarks/bench_subscribers.py --quick    # 10,000, for a smoke test

Builds a store in a FileStorage in a temporary directory through the public API (signup,
then activation, as the webhooks will do), commits, packs, and then times
``active_recipients`` for one topic that every active subscriber follows (the worst case:
the snapshot holds all of them) and for a union of three topics. Prints a table; nothing
passes or fails. "cold" opens the database anew before each run, so every index bucket is
read from the file (the operating system's page cache stays warm); "warm" repeats on one
connection whose cache holds the buckets already, as in a running Zope. The machines are
shared and noisy: compare the ratio to the target, and run it twice.
"""

import argparse
import collections
import os
import random
import statistics
import tempfile
import threading
import time
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import transaction
from ZODB import DB
from ZODB.FileStorage import FileStorage
from ZODB.POSException import ConflictError

from collective.messenger.subscribers.model import Consent
from collective.messenger.subscribers.store import SubscriberStore

TARGET_MS = 300.0
THREADS = 50
ROUNDS = 3
ZOPE_ATTEMPTS = 4  # a request and up to 3 retries on ConflictError
RUNS = 5
CACHE_SIZE = 30000  # objects per connection: plone.recipe.zope2instance's default
EVERYONE = "warnungen"  # followed by every active subscriber
OTHER_TOPICS = [
    "baustellen-verkehr",
    "veranstaltungen",
    "rathaus-aktuell",
    "freibad",
    "schulen",
]
CHANNEL_MIX = [("telegram", 50), ("whatsapp", 30), ("signal", 15), ("threema", 5)]
NOW = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)
CONSENT = Consent("2026-01", "page")


def address_for(channel, rng):
    if channel == "telegram":
        return str(rng.randrange(10**8, 8 * 10**9))
    if channel == "threema":
        return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(8))
    if channel == "whatsapp":
        return f"49{rng.randrange(10**9, 10**10)}"
    return f"+49{rng.randrange(10**9, 10**10)}"


def build(path, active, pending, unsubscribed, seed=4):
    """A store with ``active`` active subscribers (all following EVERYONE plus 0-3 other
    topics), ``pending`` unconfirmed signups and ``unsubscribed`` leavers."""
    rng = random.Random(seed)
    channels = [c for c, weight in CHANNEL_MIX for _ in range(weight)]
    db = DB(FileStorage(path), cache_size=CACHE_SIZE)
    connection = db.open()
    store = connection.root()["store"] = SubscriberStore()
    transaction.commit()
    started = time.perf_counter()
    for number in range(active + pending + unsubscribed):
        channel = rng.choice(channels)
        topics = [EVERYONE, *rng.sample(OTHER_TOPICS, rng.randrange(0, 4))]
        language = "de" if rng.random() < 0.9 else "en"
        given = (
            None if channel in ("telegram", "whatsapp") else address_for(channel, rng)
        )
        subscriber = store.add_pending(
            channel, topics, language, CONSENT, address=given, now=NOW
        )
        if number < active + unsubscribed:  # the rest stays pending
            address = given or address_for(channel, rng)
            subscriber = store.activate(subscriber, address=address, now=NOW)
        if number >= active and number < active + unsubscribed:
            store.unsubscribe(subscriber, now=NOW + timedelta(days=1))
        if number % 5000 == 4999:
            transaction.commit()
            connection.cacheMinimize()
    transaction.commit()
    build_seconds = time.perf_counter() - started
    db.pack()
    db.close()
    return build_seconds


def timed(function):
    started = time.perf_counter()
    result = function()
    return (time.perf_counter() - started) * 1000, result


def cold_runs(path, topics):
    times, size = [], None
    for _ in range(RUNS):
        db = DB(FileStorage(path, read_only=True), cache_size=CACHE_SIZE)
        connection = db.open()
        store = connection.root()["store"]
        store._p_activate()
        elapsed, snapshot = timed(lambda: store.active_recipients(topics))
        times.append(elapsed)
        size = len(snapshot)
        db.close()
    return times, size


def warm_runs(path, topics):
    db = DB(FileStorage(path, read_only=True), cache_size=CACHE_SIZE)
    connection = db.open()
    store = connection.root()["store"]
    store.active_recipients(topics)
    times = [timed(lambda: store.active_recipients(topics))[0] for _ in range(RUNS)]
    objects = len(connection._cache)
    db.close()
    return times, objects


def in_parallel(db, change):
    """``change(store, n)`` in THREADS threads with a connection each, all committing at
    once, retried like a Zope request; returns the attempts each needed (0: gave up)."""
    barrier = threading.Barrier(THREADS)
    attempts = [0] * THREADS

    def thread(n):
        tm = transaction.TransactionManager()
        connection = db.open(transaction_manager=tm)
        for attempt in range(1, ZOPE_ATTEMPTS + 1):
            tm.begin()
            try:
                change(connection.root()["store"], n)
                if attempt == 1:
                    barrier.wait()
                tm.commit()
                attempts[n] = attempt
                break
            except ConflictError:
                tm.abort()
        connection.close()

    threads = [threading.Thread(target=thread, args=(n,)) for n in range(THREADS)]
    for each in threads:
        each.start()
    for each in threads:
        each.join()
    return attempts


def concurrency(path):
    """Bursts of THREADS signups, then THREADS confirmations, on the built store."""
    db = DB(FileStorage(path), pool_size=THREADS + 5, cache_size=CACHE_SIZE)
    with db.transaction() as connection:
        # The daily maintenance job (it keeps a month of day counters ready; the store
        # was built with dates in the past).
        connection.root()["store"].expire_pending()
    histogram = collections.Counter()
    size_before = os.path.getsize(path)
    for burst in range(ROUNDS):
        ids = [None] * THREADS

        def sign_up(store, n):
            ids[n] = store.add_pending(
                "telegram", [EVERYONE, OTHER_TOPICS[n % 5]], "de", CONSENT
            ).id

        def confirm(store, n):
            store.activate(store.get(ids[n]), address=f"9{burst:02d}{n:06d}")

        histogram.update(("signup", a) for a in in_parallel(db, sign_up))
        histogram.update(("confirmation", a) for a in in_parallel(db, confirm))
    growth = (os.path.getsize(path) - size_before) / (ROUNDS * THREADS)
    db.close()
    return histogram, growth


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="10,000 subscribers instead of 100,000"
    )
    args = parser.parse_args()
    active = 10_000 if args.quick else 100_000
    pending, unsubscribed = active // 20, active // 20
    total = active + pending + unsubscribed

    with tempfile.TemporaryDirectory(prefix="bench-subscribers-") as directory:
        path = os.path.join(directory, "Data.fs")
        print(
            f"Building {total:,} subscribers ({active:,} active, {pending:,} pending, "
            f"{unsubscribed:,} unsubscribed) in a FileStorage ..."
        )
        build_seconds = build(path, active, pending, unsubscribed)
        size = os.path.getsize(path)
        print(
            f"built in {build_seconds:.1f} s ({build_seconds / total * 1e6:.0f} µs per signup "
            f"and activation, commits every 5,000)\n"
        )

        one = [EVERYONE]
        three = [EVERYONE, OTHER_TOPICS[0], OTHER_TOPICS[1]]
        rows = []
        for label, topics in (("one topic", one), ("union of 3 topics", three)):
            cold, recipients = cold_runs(path, topics)
            warm, objects = warm_runs(path, topics)
            for kind, times in (("cold", cold), ("warm", warm)):
                median = statistics.median(times)
                rows.append((
                    f"snapshot, {label}, {kind}",
                    f"{recipients:,} recipients",
                    f"{median:.0f} ms",
                    f"{min(times):.0f}-{max(times):.0f} ms",
                    f"{median / TARGET_MS:.2f}",
                ))
            rows.append((f"  objects loaded for {label}", f"{objects:,}", "", "", ""))

        header = (
            "measurement",
            "result",
            f"median of {RUNS}",
            "range",
            "÷ 300 ms target",
        )
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(5)]
        line = "  ".join("{:<%d}" % w for w in widths)
        print(line.format(*header))
        print(line.format(*("-" * w for w in widths)))
        for row in rows:
            print(line.format(*row))
        print()
        print(
            f"ZODB size after commit and pack: {size / 1e6:.1f} MB for {total:,} subscribers "
            f"= {size / total:,.0f} bytes per subscriber (record, tokens, indexes, counters)"
        )
        print(
            f"(connection cache {CACHE_SIZE:,} objects; Python {os.sys.version.split()[0]})"
        )

        histogram, growth = concurrency(path)
        print(
            f"\n{ROUNDS} bursts of {THREADS} concurrent signups, then {THREADS} concurrent "
            f"confirmations, on this store (all {THREADS} commit at once, retried like a "
            "Zope request):"
        )
        for kind in ("signup", "confirmation"):
            spread = ", ".join(
                f"{histogram[(kind, a)]} in {a}"
                for a in range(1, ZOPE_ATTEMPTS + 1)
                if histogram[(kind, a)]
            )
            print(
                f"  {kind}s by attempts needed: {spread}; failed after "
                f"{ZOPE_ATTEMPTS} attempts: {histogram[(kind, 0)]}"
            )
        print(
            f"  ZODB growth before pack: {growth / 1000:.1f} kB per signup and confirmation"
        )


if __name__ == "__main__":
    main()
