"""The shared rate bucket, across processes, against a real Redis."""

import bisect
import multiprocessing
import time

import redis

from messenger_worker.ratelimit import RateBucket


def _take_tokens(url, seconds, results):
    bucket = RateBucket(redis.Redis.from_url(url), "telegram", "bot-1", 100)
    deadline = time.monotonic() + seconds
    times = []
    while time.monotonic() < deadline:
        if bucket.acquire(should_stop=lambda: time.monotonic() > deadline):
            times.append(time.time())
    results.put(times)


def _run_processes(url, count, seconds):
    results = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(target=_take_tokens, args=(url, seconds, results))
        for _ in range(count)
    ]
    for process in processes:
        process.start()
    per_process = [results.get(timeout=seconds + 30) for _ in processes]
    for process in processes:
        process.join()
    return per_process


def test_two_processes_share_one_rate(redis_server, redis_client):
    per_process = _run_processes(redis_server.url, 2, 3)
    times = sorted(t for times in per_process for t in times)
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert 95 <= rate <= 101.5
    # Both got a share: the bucket is shared, not per process.
    assert min(len(t) for t in per_process) > 50
    # No second holds more than the rate plus the small burst tolerance.
    busiest = max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))
    assert busiest <= 103


def test_pause_stops_every_holder(redis_client):
    bucket = RateBucket(redis_client, "whatsapp", "100200300", 1000)
    other = RateBucket(redis_client, "whatsapp", "100200300", 1000)
    bucket.pause(0.4)
    assert other.try_acquire() > 0.3
    start = time.monotonic()
    assert other.acquire()
    assert 0.35 < time.monotonic() - start < 0.6


def test_a_shorter_pause_does_not_shorten_a_longer_one(redis_client):
    bucket = RateBucket(redis_client, "signal", "+49151", 1)
    bucket.pause(5)
    bucket.pause(1)
    assert bucket.try_acquire() > 4


def test_buckets_are_per_account(redis_client):
    first = RateBucket(redis_client, "telegram", "bot-1", 1)
    second = RateBucket(redis_client, "telegram", "bot-2", 1)
    for _ in range(3):  # the burst tolerance lets a few through at once
        first.try_acquire()
    assert first.try_acquire() > 0
    assert second.try_acquire() == 0


def test_acquire_gives_up_when_asked_to_stop(redis_client):
    bucket = RateBucket(redis_client, "threema", "*MUSTER1", 1)
    bucket.pause(10)
    assert bucket.acquire(should_stop=lambda: True) is False


def test_rate_must_be_positive(redis_client):
    import pytest

    with pytest.raises(ValueError, match="must be above 0"):
        RateBucket(redis_client, "telegram", "bot", 0)
