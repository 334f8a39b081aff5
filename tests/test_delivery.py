"""Delivering posts: real Redis, real worker processes, real HTTP to the sandbox."""

import json
import signal
import time

import pytest
from conftest import wait_until
from delivery_support import done
from delivery_support import enqueue
from delivery_support import make_post
from delivery_support import publish
from delivery_support import recipients
from delivery_support import stats

from messenger_worker import fanout
from messenger_worker.ledger import errors_key
from messenger_worker.ledger import GONE_KEY
from messenger_worker.ledger import marks_key
from messenger_worker.ledger import stats_key
from messenger_worker.pauses import ChannelPauses
from messenger_worker.payload import Recipient


def test_post_reaches_every_telegram_recipient_once(
    redis_client, sandbox, start_worker
):
    publish(redis_client, sandbox, rates={"telegram": 1000})
    people = recipients("telegram", 120)
    assert enqueue(redis_client, make_post(), people, batch_size=50) == 3
    start_worker()
    wait_until(lambda: done(redis_client, "p1", "telegram", 120), message="delivery")
    counts = stats(redis_client, "p1", "telegram")
    assert counts["queued"] == 120
    assert counts["sent"] == 120
    assert counts.get("resent", 0) == 0
    received = sandbox.messages(channel="telegram")
    assert sorted(m["recipient"] for m in received) == sorted(r.address for r in people)
    assert "Straßensperrung Hauptstraße" in received[0]["text"]
    marks = redis_client.hgetall(marks_key("p1"))
    assert all(value.startswith(b"s:") for value in marks.values())
    # The marks expire with the post's stats (30 days), not never.
    assert (
        0 < redis_client.ttl(stats_key("p1")) - 5 <= redis_client.ttl(marks_key("p1"))
    )


def test_gone_recipients_are_reported(redis_client, sandbox, start_worker):
    sandbox.configure(
        telegram={"blocked": ["1001"], "unknown": ["1002"], "deactivated": ["1003"]}
    )
    publish(redis_client, sandbox, rates={"telegram": 1000})
    enqueue(redis_client, make_post(), recipients("telegram", 10))
    start_worker()
    wait_until(lambda: done(redis_client, "p1", "telegram", 10), message="delivery")
    counts = stats(redis_client, "p1", "telegram")
    assert (counts["sent"], counts["gone"]) == (7, 3)
    gone = {
        k.decode(): json.loads(v) for k, v in redis_client.hgetall(GONE_KEY).items()
    }
    assert set(gone) == {
        "telegram:telegram-1001",
        "telegram:telegram-1002",
        "telegram:telegram-1003",
    }
    assert "blocked" in gone["telegram:telegram-1001"]["reason"]


def test_server_errors_are_retried_until_sent(redis_client, sandbox, start_worker):
    sandbox.configure(threema={"error_rate": 0.3})
    # 20 attempts: the chance that a recipient meets 20 injected errors in a row is 3e-11.
    publish(redis_client, sandbox, rates={"threema": 1000}, attempts=20)
    people = [Recipient(f"t-{n}", "threema", f"ECHO{n:04d}") for n in range(40)]
    enqueue(redis_client, make_post(), people)
    start_worker()
    wait_until(
        lambda: done(redis_client, "p1", "threema", 40), timeout=60, message="retries"
    )
    counts = stats(redis_client, "p1", "threema")
    assert counts["sent"] == 40
    assert counts["retrying"] == 0
    assert len(sandbox.messages(channel="threema")) == 40


def test_attempts_are_limited(redis_client, sandbox, start_worker):
    sandbox.configure(threema={"error_rate": 1.0})
    publish(redis_client, sandbox, rates={"threema": 1000}, attempts=2)
    enqueue(redis_client, make_post(), [Recipient("t-1", "threema", "ECHOECHO")])
    start_worker()
    wait_until(
        lambda: done(redis_client, "p1", "threema", 1), timeout=60, message="giving up"
    )
    counts = stats(redis_client, "p1", "threema")
    assert counts["failed"] == 1
    assert "Gave up after 2 attempts" in counts["last_error"]
    assert (
        0 < redis_client.ttl(stats_key("p1")) - 5 <= redis_client.ttl(errors_key("p1"))
    )


def test_rejected_token_pauses_channel_until_settings_change(
    redis_client, sandbox, start_worker
):
    sandbox.configure(telegram={"bad_token": True})
    publish(redis_client, sandbox, rates={"telegram": 1000})
    enqueue(redis_client, make_post(), recipients("telegram", 5))
    start_worker()
    pause = wait_until(
        lambda: ChannelPauses(redis_client).all().get("telegram"), message="pause"
    )
    assert "token" in pause["reason"].lower()
    time.sleep(1.5)
    counts = stats(redis_client, "p1", "telegram")
    assert counts.get("failed", 0) == 0 and counts.get("sent", 0) == 0
    # The admin fixes the token: new settings lift the pause and the batch goes out.
    sandbox.configure(telegram={"bad_token": False})
    publish(redis_client, sandbox, rates={"telegram": 1000})
    wait_until(
        lambda: done(redis_client, "p1", "telegram", 5), timeout=30, message="resume"
    )
    assert stats(redis_client, "p1", "telegram")["sent"] == 5
    assert len(sandbox.messages(channel="telegram")) == 5


def test_platform_rate_limit_pauses_the_bucket_and_retries(
    redis_client, sandbox, start_worker
):
    # The platform allows fewer messages than the settings claim: 429 with retry_after.
    sandbox.configure(telegram={"rate_limit": 50, "burst": 5})
    # Misconfigured on purpose, so a recipient may meet several 429s: enough attempts for all.
    publish(redis_client, sandbox, rates={"telegram": 500}, attempts=20)
    enqueue(redis_client, make_post(), recipients("telegram", 60))
    start_worker()
    wait_until(
        lambda: done(redis_client, "p1", "telegram", 60), timeout=60, message="delivery"
    )
    assert stats(redis_client, "p1", "telegram")["sent"] == 60
    assert len(sandbox.messages(channel="telegram")) == 60
    assert sandbox.stats()["telegram"]["rate_limited"] >= 1


def test_urgent_posts_jump_the_queue(redis_client, sandbox, start_worker):
    publish(redis_client, sandbox, rates={"telegram": 200})
    enqueue(
        redis_client, make_post("slow"), recipients("telegram", 200), batch_size=100
    )
    enqueue(
        redis_client,
        make_post("alarm", kind="alert", urgent=True, title="Feinstaubalarm"),
        recipients("telegram", 20, start=5000),
    )
    start_worker()
    wait_until(
        lambda: done(redis_client, "alarm", "telegram", 20), timeout=30, message="alarm"
    )
    assert stats(redis_client, "slow", "telegram").get("sent", 0) < 200


def test_sigterm_finishes_current_recipient_and_requeues_the_rest(
    redis_client, sandbox, start_worker
):
    sandbox.configure(telegram={"latency_ms": 20})
    publish(redis_client, sandbox, rates={"telegram": 1000})
    enqueue(redis_client, make_post(), recipients("telegram", 300))
    worker = start_worker()
    wait_until(
        lambda: stats(redis_client, "p1", "telegram").get("sent", 0) >= 20,
        message="start",
    )
    assert worker.stop(signal.SIGTERM, timeout=20) == 0
    sent_when_stopped = stats(redis_client, "p1", "telegram")["sent"]
    assert sent_when_stopped < 300
    assert not [v for v in redis_client.hvals(marks_key("p1")) if v.startswith(b"c:")]
    start_worker()
    wait_until(
        lambda: done(redis_client, "p1", "telegram", 300), timeout=60, message="rest"
    )
    counts = stats(redis_client, "p1", "telegram")
    assert counts["sent"] == 300
    assert counts.get("resent", 0) == 0
    assert len(sandbox.messages(channel="telegram")) == 300


@pytest.mark.timeout(400)
def test_sigkill_mid_post_loses_nobody_and_duplicates_at_most_one(
    redis_client, sandbox, start_worker
):
    sandbox.configure(telegram={"latency_ms": 5})
    publish(redis_client, sandbox, rates={"telegram": 1000})
    people = recipients("telegram", 1000)
    enqueue(redis_client, make_post(), people, batch_size=250)
    victim = start_worker()
    wait_until(
        lambda: stats(redis_client, "p1", "telegram").get("sent", 0) >= 100,
        message="start",
    )
    victim.kill()
    sent_before = {
        k
        for k, v in redis_client.hgetall(marks_key("p1")).items()
        if v.startswith(b"s:")
    }
    start_worker()
    wait_until(
        lambda: done(redis_client, "p1", "telegram", 1000),
        timeout=300,
        message="recovery",
    )
    counts = stats(redis_client, "p1", "telegram")
    assert counts["sent"] == 1000
    received = [m["recipient"] for m in sandbox.messages(channel="telegram")]
    assert set(received) == {r.address for r in people}  # every recipient at least once
    duplicates = len(received) - len(set(received))
    # One killed worker: at most one duplicate, the recipient it was sending to.
    assert duplicates <= counts.get("resent", 0) <= 1
    # Nobody already marked sent before the kill was sent again.
    for field in sent_before:
        address = field.decode().split("-")[-1]
        assert received.count(address) == 1


@pytest.mark.timeout(300)
def test_redis_restart_mid_post_loses_nothing(sandbox):
    from conftest import WorkerProcess

    from messenger_worker.testing import RedisServer

    server = RedisServer(appendonly=True).start()
    worker = None
    try:
        client = server.client()
        sandbox.configure(telegram={"latency_ms": 5})
        publish(client, sandbox, rates={"telegram": 1000})
        people = recipients("telegram", 600)
        enqueue(client, make_post(), people, batch_size=200)
        worker = WorkerProcess(server.url)
        wait_until(
            lambda: stats(client, "p1", "telegram").get("sent", 0) >= 50,
            message="start",
        )
        server.restart()
        client = server.client()
        wait_until(
            lambda: done(client, "p1", "telegram", 600),
            timeout=200,
            message="completion",
        )
        assert stats(client, "p1", "telegram")["sent"] == 600
        received = [m["recipient"] for m in sandbox.messages(channel="telegram")]
        assert set(received) == {r.address for r in people}
        assert len(received) - len(set(received)) <= 1
    finally:
        if worker is not None:
            worker.kill()
        server.remove()


def test_rate_with_fractional_interval_waits_and_delivers(
    redis_client, sandbox, start_worker
):
    # 30 messages/s (Telegram's default) is an interval of 33,333.3 µs: the bucket answers
    # fractional waits, which once broke the job (ValueError) and left batches retrying.
    publish(redis_client, sandbox, rates={"telegram": 30})
    people = recipients("telegram", 40)
    enqueue(redis_client, make_post("fractional"), people, rate=30)
    start_worker()
    wait_until(
        lambda: done(redis_client, "fractional", "telegram", 40),
        timeout=30,
        message="delivery at 30/s",
    )
    counts = stats(redis_client, "fractional", "telegram")
    assert counts["sent"] == 40 and counts.get("retrying", 0) == 0


def test_handed_over_post_is_split_into_batches_by_the_worker(
    redis_client, sandbox, start_worker
):
    # Plone's path: one value with every recipient and one job; the worker makes the batches.
    publish(redis_client, sandbox, rates={"telegram": 1000})
    rows = [
        (r.subscriber_id, r.channel, r.address, r.language)
        for r in recipients("telegram", 1200)
    ]
    assert fanout.hand_over(redis_client, make_post("whole"), rows) == 1200
    assert stats(redis_client, "whole", "telegram")["queued"] == 1200
    start_worker()
    wait_until(
        lambda: done(redis_client, "whole", "telegram", 1200),
        timeout=60,
        message="delivery",
    )
    assert not redis_client.exists(
        fanout.recipients_key("whole")
    )  # split once, then gone
    received = sandbox.messages(channel="telegram")
    assert sorted(m["recipient"] for m in received) == sorted(row[2] for row in rows)
    # Handing it over again (a drain that did not know) sends nobody twice.
    fanout.hand_over(redis_client, make_post("whole"), rows)
    wait_until(
        lambda: not redis_client.exists(fanout.recipients_key("whole")),
        timeout=30,
        message="split",
    )
    time.sleep(1)
    assert len(sandbox.messages(channel="telegram")) == 1200
