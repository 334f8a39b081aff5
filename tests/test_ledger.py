"""Marks and counters: exact, idempotent, and safe against a worker dying mid-send."""

from messenger_worker.ledger import GONE_KEY
from messenger_worker.ledger import Ledger
from messenger_worker.ledger import marks_key
from messenger_worker.ledger import read_stats
from messenger_worker.payload import Recipient
from messenger_worker.ratelimit import RateBucket

ALICE = Recipient("s-1", "telegram", "1001")
BOB = Recipient("s-2", "telegram", "1002")


def claim(ledger, bucket, recipient, execution):
    state, detail = ledger.claim(recipient, execution, bucket)
    return state.decode(), detail.decode()


def test_claim_send_then_skip(redis_client):
    ledger = Ledger(redis_client, "p1", "telegram")
    bucket = RateBucket(redis_client, "telegram", "bot", 1000)
    assert claim(ledger, bucket, ALICE, "run-1") == ("go", "")
    with redis_client.pipeline() as pipe:
        ledger.sent(pipe, ALICE, "42")
        ledger.sent(pipe, ALICE, "42")  # booking twice counts once
        pipe.execute()
    assert claim(ledger, bucket, ALICE, "run-2") == ("done", "s:42")
    assert read_stats(redis_client, "p1")["telegram"]["sent"] == 1


def test_claim_of_a_dead_run_is_taken_over_and_counted(redis_client):
    ledger = Ledger(redis_client, "p1", "telegram")
    bucket = RateBucket(redis_client, "telegram", "bot", 1000)
    claim(ledger, bucket, ALICE, "dead-run")
    state, previous = claim(ledger, bucket, ALICE, "new-run")
    assert (state, previous) == ("go", "c:dead-run")
    assert read_stats(redis_client, "p1")["telegram"]["resent"] == 1
    # Claiming again in the same run is not another resend.
    claim(ledger, bucket, ALICE, "new-run")
    assert read_stats(redis_client, "p1")["telegram"]["resent"] == 1


def test_retrying_counter_goes_up_and_down(redis_client):
    ledger = Ledger(redis_client, "p1", "telegram")
    bucket = RateBucket(redis_client, "telegram", "bot", 1000)
    for recipient in (ALICE, BOB):
        claim(ledger, bucket, recipient, "run-1")
    with redis_client.pipeline() as pipe:
        ledger.retrying(pipe, ALICE, 1)
        ledger.retrying(pipe, BOB, 1)
        pipe.execute()
    assert read_stats(redis_client, "p1")["telegram"]["retrying"] == 2
    claim(ledger, bucket, ALICE, "run-2")
    with redis_client.pipeline() as pipe:
        ledger.gone(pipe, ALICE, "blocked")
        ledger.failed(pipe, BOB, "too long")  # straight from retry-pending, e.g. channel off
        pipe.execute()
    stats = read_stats(redis_client, "p1")["telegram"]
    assert stats["retrying"] == 0
    assert stats["gone"] == 1
    assert stats["failed"] == 1
    assert stats["last_error"] == "too long"
    assert redis_client.hexists(GONE_KEY, "telegram:s-1")


def test_release_gives_back_only_own_claim(redis_client):
    ledger = Ledger(redis_client, "p1", "telegram")
    bucket = RateBucket(redis_client, "telegram", "bot", 1000)
    claim(ledger, bucket, ALICE, "run-1")
    ledger.release(ALICE, "other-run")
    assert redis_client.hget(marks_key("p1"), "telegram:s-1") == b"c:run-1"
    ledger.release(ALICE, "run-1")
    assert redis_client.hget(marks_key("p1"), "telegram:s-1") is None


def test_claim_waits_for_rate_token(redis_client):
    def first_states(rate, count):
        ledger = Ledger(redis_client, f"p-{rate}", "telegram")
        bucket = RateBucket(redis_client, "telegram", f"bot-{rate}", rate)
        return [claim(ledger, bucket, Recipient(f"s-{n}", "telegram", str(n)), "run")[0]
                for n in range(count)]

    # Tolerance: two intervals, at most 0.1 s, so 3 at once at 100/s and 1 at once at 1/s.
    assert first_states(100, 4) == ["go", "go", "go", "wait"]
    assert first_states(1, 2) == ["go", "wait"]
