"""Marks and counters: exact, idempotent, and safe against a worker dying mid-send."""

import time

from messenger_worker import fanout
from messenger_worker.ledger import CLAIM_LEASE_SECONDS
from messenger_worker.ledger import errors_key
from messenger_worker.ledger import GONE_KEY
from messenger_worker.ledger import Ledger
from messenger_worker.ledger import marks_key
from messenger_worker.ledger import POST_TTL_SECONDS
from messenger_worker.ledger import read_stats
from messenger_worker.ledger import stats_key
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


def test_claim_of_a_dead_run_is_taken_over_after_its_lease_and_counted(redis_client):
    ledger = Ledger(redis_client, "p1", "telegram")
    bucket = RateBucket(redis_client, "telegram", "bot", 1000)
    expired = f"c:dead-run {time.time() - CLAIM_LEASE_SECONDS - 1:.3f}"
    redis_client.hset(marks_key("p1"), "telegram:s-1", expired)
    assert claim(ledger, bucket, ALICE, "new-run") == ("go", expired)
    assert read_stats(redis_client, "p1")["telegram"]["resent"] == 1
    # Claiming again in the same run is not another resend.
    claim(ledger, bucket, ALICE, "new-run")
    assert read_stats(redis_client, "p1")["telegram"]["resent"] == 1


def test_a_claim_from_before_leases_counts_as_expired(redis_client):
    # Marks written by the previous version ("c:<execution>") do not block a recipient for good.
    ledger = Ledger(redis_client, "p1", "telegram")
    bucket = RateBucket(redis_client, "telegram", "bot", 1000)
    redis_client.hset(marks_key("p1"), "telegram:s-1", "c:old-version-run")
    assert claim(ledger, bucket, ALICE, "new-run") == ("go", "c:old-version-run")


def test_a_younger_claim_of_another_run_is_not_taken(redis_client):
    ledger = Ledger(redis_client, "p1", "telegram")
    bucket = RateBucket(redis_client, "telegram", "bot", 1000)
    assert claim(ledger, bucket, ALICE, "run-1")[0] == "go"
    mark = redis_client.hget(marks_key("p1"), "telegram:s-1")
    state, left = claim(ledger, bucket, ALICE, "run-2")
    assert state == "busy"
    assert CLAIM_LEASE_SECONDS - 5 < float(left) <= CLAIM_LEASE_SECONDS
    # Neither the mark nor the counters moved.
    assert redis_client.hget(marks_key("p1"), "telegram:s-1") == mark
    assert read_stats(redis_client, "p1").get("telegram", {}).get("resent", 0) == 0
    # The holder books it; the other run then finds it done.
    with redis_client.pipeline() as pipe:
        ledger.sent(pipe, ALICE, "42")
        pipe.execute()
    assert claim(ledger, bucket, ALICE, "run-2") == ("done", "s:42")


def test_marks_and_errors_expire_with_the_post(redis_client):
    from messenger_worker.payload import Post

    post = Post(
        id="p1", content_uid="uid-1", kind="news", title="Sperrung", url="https://x/a"
    )
    fanout.enqueue_post(redis_client, post, [ALICE, BOB], {"telegram": 1000})
    ledger = Ledger(redis_client, "p1", "telegram")
    bucket = RateBucket(redis_client, "telegram", "bot", 1000)
    claim(ledger, bucket, ALICE, "run-1")
    claim(ledger, bucket, BOB, "run-1")
    with redis_client.pipeline() as pipe:
        ledger.sent(pipe, ALICE, "42")
        ledger.failed(pipe, BOB, "too long")
        pipe.execute()
    stats_ttl = redis_client.ttl(stats_key("p1"))
    assert POST_TTL_SECONDS - 60 < stats_ttl <= POST_TTL_SECONDS
    for key in (marks_key("p1"), errors_key("p1")):
        assert abs(redis_client.ttl(key) - stats_ttl) <= 1, key
    # Without stats (a post written by hand) they still expire, after the post lifetime.
    other = Ledger(redis_client, "p2", "telegram")
    claim(other, bucket, ALICE, "run-2")
    assert POST_TTL_SECONDS - 60 < redis_client.ttl(marks_key("p2")) <= POST_TTL_SECONDS
    # Handing the post over again renews them with the stats.
    redis_client.expire(marks_key("p1"), 100)
    redis_client.expire(errors_key("p1"), 100)
    fanout.enqueue_post(redis_client, post, [ALICE, BOB], {"telegram": 1000})
    assert redis_client.ttl(marks_key("p1")) > POST_TTL_SECONDS - 60
    assert redis_client.ttl(errors_key("p1")) > POST_TTL_SECONDS - 60


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
        ledger.failed(
            pipe, BOB, "too long"
        )  # straight from retry-pending, e.g. channel off
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
    ledger.release(ALICE, "run")  # a prefix of run-1's name is not run-1
    assert redis_client.hget(marks_key("p1"), "telegram:s-1").startswith(b"c:run-1 ")
    ledger.release(ALICE, "run-1")
    assert redis_client.hget(marks_key("p1"), "telegram:s-1") is None


def test_claim_waits_for_rate_token(redis_client):
    def first_states(rate, count):
        ledger = Ledger(redis_client, f"p-{rate}", "telegram")
        bucket = RateBucket(redis_client, "telegram", f"bot-{rate}", rate)
        return [
            claim(ledger, bucket, Recipient(f"s-{n}", "telegram", str(n)), "run")[0]
            for n in range(count)
        ]

    # Tolerance: two intervals, at most 0.1 s, so 3 at once at 100/s and 1 at once at 1/s.
    assert first_states(100, 4) == ["go", "go", "go", "wait"]
    assert first_states(1, 2) == ["go", "wait"]
