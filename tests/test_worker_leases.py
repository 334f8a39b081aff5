"""Two executions of one batch at once split it; a dead worker's batch is taken up in seconds.

Real Redis, real worker processes (``messenger-worker run``), real HTTP to the sandbox.
Each test makes one batch run long enough (a low send rate) to be caught in the middle.
"""

import os
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
from rq.registry import ScheduledJobRegistry
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from messenger_worker import keys
from messenger_worker import liveness
from messenger_worker.testing import descendants

RATE = 30  # messages per second: 600 recipients take 20 s


def sent(redis_client):
    return stats(redis_client, "p1", "telegram").get("sent", 0)


def worker_count(redis_client):
    return redis_client.zcard(liveness.WORKERS_KEY)


def busy_follow_ups(redis_client):
    """Follow-ups for recipients another execution of the same batch held: proof that two
    executions ran at once."""
    registry = ScheduledJobRegistry(
        keys.QUEUE_DEFAULT, connection=redis_client, serializer=JSONSerializer
    )
    return [job_id for job_id in registry.get_job_ids() if "-busy-" in job_id]


def work_horse(worker):
    """The pid of the worker's work horse, once it runs a job."""
    return wait_until(lambda: descendants(worker.process.pid), message="a work horse")[
        0
    ]


def received(sandbox):
    return [m["recipient"] for m in sandbox.messages(channel="telegram")]


def start_one_long_batch(redis_client, sandbox, start_worker, count=600):
    """One batch of ``count`` recipients, running in worker A, and an idle worker B."""
    sandbox.configure(telegram={"latency_ms": 5})
    publish(redis_client, sandbox, rates={"telegram": RATE})
    people = recipients("telegram", count)
    first = start_worker()
    wait_until(lambda: worker_count(redis_client) == 1, message="worker A's lease")
    enqueue(redis_client, make_post(), people, batch_size=count, rate=RATE)
    wait_until(lambda: sent(redis_client) >= 15, message="worker A sending")
    second = start_worker()
    wait_until(lambda: worker_count(redis_client) == 2, message="worker B's lease")
    return people, first, second


def assert_each_received_once(redis_client, sandbox, people):
    wait_until(
        lambda: done(redis_client, "p1", "telegram", len(people)),
        timeout=120,
        message="delivery",
    )
    got = received(sandbox)
    assert set(got) == {r.address for r in people}
    assert len(got) == len(people), (
        f"{len(got) - len(set(got))} recipients got the post twice"
    )
    counts = stats(redis_client, "p1", "telegram")
    assert counts["sent"] == len(people)
    assert counts.get("resent", 0) == 0


@pytest.mark.timeout(300)
def test_a_work_horse_whose_worker_died_and_the_batch_taken_up_split_the_recipients(
    redis_client, sandbox, start_worker
):
    people, first, second = start_one_long_batch(redis_client, sandbox, start_worker)
    horse = work_horse(first)
    try:
        # The worker process dies; its work horse, in a session of its own, sends on.
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=30)
        # Worker B takes the batch up while the orphaned horse still sends: both run it.
        wait_until(
            lambda: busy_follow_ups(redis_client),
            timeout=30,
            message="two executions at once",
        )
        assert os.path.exists(f"/proc/{horse}")
        assert_each_received_once(redis_client, sandbox, people)
    finally:
        try:
            os.kill(horse, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.timeout(300)
def test_a_batch_rq_takes_for_abandoned_after_a_lost_heartbeat_is_not_sent_twice(
    redis_client, sandbox, start_worker
):
    people, first, second = start_one_long_batch(redis_client, sandbox, start_worker)
    # Worker A's heartbeat did not reach Redis in time (a stalled process, a slow network):
    # its entry in the StartedJobRegistry has run out, and the next clean-up by any RQ
    # worker's maintenance declares the running batch abandoned and schedules it again.
    registry = StartedJobRegistry(
        keys.QUEUE_DEFAULT, connection=redis_client, serializer=JSONSerializer
    )
    entries = redis_client.zrange(registry.key, 0, -1)
    assert len(entries) == 1
    redis_client.zadd(registry.key, {entries[0]: 1})
    registry.cleanup()
    # RQ's retry (after 10 s) runs in worker B while worker A still sends.
    wait_until(
        lambda: busy_follow_ups(redis_client),
        timeout=40,
        message="two executions at once",
    )
    assert_each_received_once(redis_client, sandbox, people)


@pytest.mark.timeout(300)
def test_a_stalled_worker_whose_batch_was_taken_up_sends_nobody_twice(
    redis_client, sandbox, start_worker
):
    people, first, second = start_one_long_batch(redis_client, sandbox, start_worker)
    # Worker A stalls (here: SIGSTOP; in life a swapping machine or a long GC pause): no more
    # heartbeats or lease renewals, while its work horse sends on.
    os.kill(first.process.pid, signal.SIGSTOP)
    try:
        wait_until(
            lambda: busy_follow_ups(redis_client),
            timeout=30,
            message="two executions at once",
        )
    finally:
        os.kill(first.process.pid, signal.SIGCONT)
    # A wakes up and renews its lease: it is not taken for dead again.
    wait_until(
        lambda: worker_count(redis_client) == 2, message="worker A's lease renewed"
    )
    assert_each_received_once(redis_client, sandbox, people)


@pytest.mark.timeout(300)
def test_a_batch_handed_over_again_while_it_runs_is_not_sent_twice(
    redis_client, sandbox, start_worker
):
    people, first, second = start_one_long_batch(redis_client, sandbox, start_worker)
    # Plone drains its outbox and hands the same post over again (same job ids): worker B
    # runs the batch a second time while worker A is still at it.
    enqueue(redis_client, make_post(), people, batch_size=len(people), rate=RATE)
    wait_until(
        lambda: busy_follow_ups(redis_client),
        timeout=30,
        message="two executions at once",
    )
    assert_each_received_once(redis_client, sandbox, people)


@pytest.mark.timeout(300)
def test_the_batch_of_a_killed_worker_is_taken_up_within_15_seconds(
    redis_client, sandbox, start_worker
):
    people, first, second = start_one_long_batch(redis_client, sandbox, start_worker)
    first.kill()  # SIGKILL to the worker and its work horse: a machine that dies
    killed_at = time.monotonic()
    sent_when_killed = sent(redis_client)
    # Nobody else books anything for this post: any new "sent" is worker B's run of the batch.
    wait_until(
        lambda: sent(redis_client) > sent_when_killed,
        timeout=15,
        message="the batch taken up again",
    )
    print(f"taken up {time.monotonic() - killed_at:.1f} s after the kill")
    # The recipient the dead horse held waits for its claim's lease (60 s), then goes out.
    wait_until(
        lambda: done(redis_client, "p1", "telegram", len(people)),
        timeout=150,
        message="delivery",
    )
    got = received(sandbox)
    assert set(got) == {r.address for r in people}
    duplicates = len(got) - len(set(got))
    assert duplicates <= stats(redis_client, "p1", "telegram").get("resent", 0) <= 1
