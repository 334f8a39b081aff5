"""Fifty signups that each record a reply at the same moment, on one FileStorage: no reply is
lost and no ConflictError reaches a citizen (Zope retries a request up to three times), also
while the hand-overs of earlier replies empty their records in transactions of their own."""

import threading

import pytest
import transaction
from test_subscribers_concurrency import run_like_zope
from test_subscribers_concurrency import ZOPE_ATTEMPTS
from ZODB import DB
from ZODB.FileStorage import FileStorage

from collective.messenger.signup.reply_outbox import ReplyOutbox
from messenger_worker.payload import Recipient

THREADS = 50


@pytest.fixture
def db(tmp_path):
    database = DB(FileStorage(str(tmp_path / "Data.fs")), pool_size=THREADS * 2 + 10)
    with database.transaction() as connection:
        connection.root()["replies"] = ReplyOutbox()
    yield database
    database.close()


def reply(n):
    return f"code-sub{n:04d}-abc", Recipient(
        f"sub{n:04d}", "signal", f"+4917012345{n:02d}", "de"
    )


@pytest.mark.parametrize(
    "earlier", [0, 200], ids=["empty outbox", "200 earlier replies"]
)
def test_fifty_replies_recorded_at_once_lose_nothing(db, earlier):
    with db.transaction() as connection:
        box = connection.root()["replies"]
        for n in range(1000, 1000 + earlier):
            reply_id, recipient = reply(n)
            box.add(reply_id, recipient, "Ihr Code: 123456")
    barrier = threading.Barrier(THREADS + earlier // 10)
    attempts, errors = [], []

    def record(n):
        tm = transaction.TransactionManager()
        connection = db.open(transaction_manager=tm)
        try:

            def work(attempt):
                reply_id, recipient = reply(n)
                connection.root()["replies"].add(
                    reply_id, recipient, "Ihr Code: 654321"
                )
                if attempt == 1:
                    barrier.wait(timeout=120)

            attempts.append(run_like_zope(tm, work)[1])
        except BaseException as error:  # reported below, with the thread's number
            errors.append((n, error))
            barrier.abort()
        finally:
            connection.close()

    def empty_earlier(n):
        # What the after-commit hand-over of an earlier reply does: it empties that record.
        tm = transaction.TransactionManager()
        connection = db.open(transaction_manager=tm)
        try:

            def work(attempt):
                for entry in connection.root()["replies"].entries()[
                    n * 10 : (n + 1) * 10
                ]:
                    entry.empty_once()
                if attempt == 1:
                    barrier.wait(timeout=120)

            run_like_zope(tm, work)
        except BaseException as error:  # reported below, with the thread's number
            errors.append((f"empty {n}", error))
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=record, args=(n,)) for n in range(THREADS)]
    threads += [
        threading.Thread(target=empty_earlier, args=(n,)) for n in range(earlier // 10)
    ]
    for each in threads:
        each.start()
    for each in threads:
        each.join(timeout=240)
    assert not errors, [(n, str(e)) for n, e in errors[:3]]
    assert max(attempts) <= ZOPE_ATTEMPTS
    connection = db.open()
    box = connection.root()["replies"]
    assert len(box) == THREADS + earlier
    assert len(box.waiting()) == THREADS
    assert all(entry.text is None for entry in box.entries() if entry.handed_over)
    connection.close()
