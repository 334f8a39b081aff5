"""Posts scheduled for later (an item's effective date): RQ's scheduler in the worker releases them."""

import time
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from conftest import wait_until
from test_delivery import done
from test_delivery import make_post
from test_delivery import publish
from test_delivery import recipients
from test_delivery import stats

from messenger_worker import fanout
from messenger_worker import keys


def test_scheduled_post_goes_out_at_its_time(redis_client, sandbox, start_worker):
    publish(redis_client, sandbox, rates={"telegram": 1000})
    due = datetime.now(timezone.utc) + timedelta(seconds=3)
    fanout.enqueue_post(
        redis_client,
        make_post("later"),
        recipients("telegram", 20),
        {"telegram": 1000},
        at=due,
    )
    assert fanout.scheduled_batches(redis_client, "later") == 1
    assert redis_client.ttl("messenger:post:later") > 30 * 24 * 3600 - 60
    start_worker()
    wait_until(
        lambda: done(redis_client, "later", "telegram", 20),
        timeout=60,
        message="scheduled delivery",
    )
    received = sandbox.messages(channel="telegram")
    assert len(received) == 20
    assert (
        min(m["time"] for m in received) >= due.timestamp() - 0.01
    )  # none before its time
    assert stats(redis_client, "later", "telegram")["sent"] == 20
    assert fanout.scheduled_batches(redis_client, "later") == 0


def test_cancelled_post_never_goes_out(redis_client, sandbox, start_worker):
    publish(redis_client, sandbox, rates={"telegram": 1000})
    due = datetime.now(timezone.utc) + timedelta(seconds=2)
    people = recipients("telegram", 1200)
    assert (
        fanout.enqueue_post(
            redis_client, make_post("retracted"), people, {"telegram": 1000}, at=due
        )
        == 3
    )
    assert fanout.cancel_post(redis_client, "retracted") == 3
    assert fanout.scheduled_batches(redis_client, "retracted") == 0
    assert not redis_client.exists("messenger:post:retracted")
    start_worker()
    time.sleep(4)
    assert sandbox.messages(channel="telegram") == []
    assert (
        fanout.cancel_post(redis_client, "retracted") == 0
    )  # nothing left, nothing to do


def test_rescheduling_replaces_the_batches(redis_client, sandbox):
    publish(redis_client, sandbox)
    first = datetime.now(timezone.utc) + timedelta(hours=1)
    fanout.enqueue_post(
        redis_client,
        make_post("moved"),
        recipients("telegram", 1200),
        {"telegram": 30},
        at=first,
    )
    fanout.cancel_post(redis_client, "moved")
    later = first + timedelta(days=1)
    fanout.enqueue_post(
        redis_client,
        make_post("moved"),
        recipients("telegram", 10),
        {"telegram": 30},
        at=later,
    )
    assert fanout.scheduled_batches(redis_client, "moved") == 1


def test_release_time_is_rounded_up_to_the_whole_second():
    # RQ's scheduler keeps whole seconds and would cut the fraction: the post would go early.
    at = datetime(2026, 12, 7, 7, 0, 0, 700000, tzinfo=timezone.utc)
    assert fanout.release_time(at) == datetime(
        2026, 12, 7, 7, 0, 1, tzinfo=timezone.utc
    )
    exact = datetime(2026, 12, 7, 7, 0, 0, tzinfo=timezone.utc)
    assert fanout.release_time(exact) == exact
    assert fanout.release_time(None) is None


def test_who_left_after_the_hand_over_does_not_get_the_scheduled_post(
    redis_client, sandbox, start_worker
):
    publish(redis_client, sandbox, rates={"telegram": 1000})
    rows = [
        (r.subscriber_id, r.channel, r.address, r.language)
        for r in recipients("telegram", 5)
    ]
    due = datetime.now(timezone.utc) + timedelta(seconds=2)
    fanout.hand_over(redis_client, make_post("friday"), rows, at=due)
    # After the hand-over, subscriber 1001 leaves (Plone writes this after its commit);
    # 1002 left long before (and is in the snapshot only by mistake: it is kept).
    redis_client.zadd(
        keys.LEFT_KEY,
        {"telegram-1001": time.time(), "telegram-1002": time.time() - 3600},
    )
    start_worker()
    wait_until(
        lambda: done(redis_client, "friday", "telegram", 4),
        timeout=60,
        message="scheduled delivery",
    )
    time.sleep(0.5)
    received = sorted(m["recipient"] for m in sandbox.messages(channel="telegram"))
    assert received == ["1000", "1002", "1003", "1004"]
    assert stats(redis_client, "friday", "telegram")["queued"] == 4
