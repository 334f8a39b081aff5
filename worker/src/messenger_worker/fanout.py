"""Putting a post on the queues: the snapshot, the counters and one job per recipient batch.

Plone calls this after its transaction committed (it imports only this module and the
payload types, and names the job function by its dotted name). Job ids are deterministic,
so enqueueing the same post again (draining an outbox after Redis was down, say) replaces
the jobs instead of adding a second copy; the marks in ``ledger`` keep anything already sent
from being sent again.
"""

import json
import math
import re
import time
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from rq import Queue
from rq import Retry
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

from messenger_worker import keys
from messenger_worker.ledger import errors_key
from messenger_worker.ledger import marks_key
from messenger_worker.ledger import post_key
from messenger_worker.ledger import POST_TTL_SECONDS
from messenger_worker.ledger import stats_key

DELIVER_BATCH = "messenger_worker.jobs.deliver_batch"
SPLIT_POST = "messenger_worker.fanout.split_post"
SPLIT_TIMEOUT_SECONDS = 300
DEFAULT_BATCH_SIZE = 500
# Job-level failures (Redis gone mid-batch, a worker killed): RQ runs the job again.
JOB_RETRY = Retry(max=5, interval=[10, 30, 60, 120, 300])
FAILED_JOB_TTL = 7 * 24 * 3600
# A batch carries addresses: the job is deleted as soon as it succeeded (see jobs.py; a job
# that failed for good keeps its subscriber ids only, see redaction.py).
BATCH_RESULT_TTL = 0


def job_timeout(recipients, rate):
    """Seconds a batch may take: three times its share of the rate, plus slack.

    Other batches share the rate bucket, so a batch may wait; a job that times out is run
    again by RQ and skips everyone already sent.
    """
    return int(math.ceil(recipients / max(rate, 0.01) * 3)) + 300


def queue_for(post, connection):
    name = keys.QUEUE_HIGH if post.urgent else keys.QUEUE_DEFAULT
    return Queue(name, connection=connection, serializer=JSONSerializer)


def job_id_part(text):
    # RQ allows letters, digits, "_" and "-" in job ids; "-" separates the parts.
    return re.sub(r"[^A-Za-z0-9_]", "_", str(text))


def batch_job_id(post_id, channel, number):
    return f"msg-{job_id_part(post_id)}-{channel}-{number}"


def root_job_id(job_id):
    """The id of the batch a follow-up job came from."""
    return "-".join(job_id.split("-")[:4])


def _rows_by_channel(recipients):
    by_channel = {}
    for recipient in recipients:
        row = recipient if isinstance(recipient, (tuple, list)) else recipient.to_list()
        by_channel.setdefault(row[1], []).append(row)
    return by_channel


def _batch_jobs(post, by_channel, rates, batch_size):
    jobs = []
    for channel, group in by_channel.items():
        for number, start in enumerate(range(0, len(group), batch_size)):
            batch = group[start : start + batch_size]
            jobs.append(
                dict(
                    args=(post.id, channel, batch, 0),
                    job_id=batch_job_id(post.id, channel, number),
                    timeout=job_timeout(len(batch), rates.get(channel, 1.0)),
                    retry=JOB_RETRY,
                    result_ttl=BATCH_RESULT_TTL,
                    failure_ttl=FAILED_JOB_TTL,
                    # Set, so RQ does not describe the job by its call with every address in it.
                    description=f"{post.title[:60]} ({channel} {number + 1})",
                )
            )
    return jobs


def release_time(at):
    """``at`` rounded up to the whole second: RQ's scheduler keeps whole seconds (it would
    cut 07:00:00.7 to 07:00:00 and release the post early)."""
    if at is None or not at.microsecond:
        return at
    return at.replace(microsecond=0) + timedelta(seconds=1)


def _lifetime(at):
    # A scheduled post must outlive its wait by the usual lifetime.
    delay = (
        max(0, int((at - datetime.now(timezone.utc)).total_seconds()))
        if at is not None
        else 0
    )
    return POST_TTL_SECONDS + delay


def _write_post(pipe, post, by_channel, lifetime):
    pipe.set(post_key(post.id), post.to_json(), ex=lifetime)
    for channel, group in by_channel.items():
        # Set, not added: handing the same post over twice must not double the count.
        pipe.hset(stats_key(post.id), f"{channel}:queued", len(group))
    pipe.expire(stats_key(post.id), lifetime)
    # Marks and errors of an earlier hand-over of this post live as long as the stats again
    # (new ones take the stats' lifetime when the worker creates them, see ledger.py).
    pipe.expire(marks_key(post.id), lifetime)
    pipe.expire(errors_key(post.id), lifetime)


def enqueue_post(
    connection, post, recipients, rates, batch_size=DEFAULT_BATCH_SIZE, at=None
):
    """Write ``post`` and enqueue its recipients in batches; returns the number of jobs.

    ``recipients`` is an iterable of ``payload.Recipient`` or of rows in its list form
    ``(subscriber_id, channel, address, language)``. ``rates`` maps channel to messages
    per second (from the settings) for the job timeouts. ``at`` (an aware datetime)
    schedules the batches for that moment instead (the worker's RQ scheduler moves them to
    the queue then); ``cancel_post`` takes scheduled batches back.
    """
    at = release_time(at)
    by_channel = _rows_by_channel(recipients)
    queue = queue_for(post, connection)
    jobs = _batch_jobs(post, by_channel, rates, batch_size)
    with connection.pipeline() as pipe:
        _write_post(pipe, post, by_channel, _lifetime(at))
        if at is None:
            queue.enqueue_many(
                [Queue.prepare_data(DELIVER_BATCH, **job) for job in jobs],
                pipeline=pipe,
            )
        else:
            for job in jobs:
                queue.schedule_job(
                    queue.create_job(DELIVER_BATCH, **job), at, pipeline=pipe
                )
        pipe.execute()
    return len(jobs)


# -- the hand-over Plone uses: one value and one job; a worker makes the batches -----------------


def recipients_key(post_id):
    return f"{post_key(post_id)}:recipients"


def split_job_id(post_id):
    return f"msg-{job_id_part(post_id)}-split"


def hand_over(connection, post, rows, at=None, batch_size=DEFAULT_BATCH_SIZE):
    """Write ``post`` with all its recipients as one value and enqueue one job that splits
    them into batches (``split_post``); returns the number of recipients.

    This is what Plone calls after commit: a request that makes 200 batch jobs of 500
    recipients spends most of its time building and compressing them, and with 100,000
    recipients the publish request took a second. One JSON value and one job keep it to
    a few dozen milliseconds; the worker makes the batches. ``rows`` are recipients in list
    form ``(subscriber_id, channel, address, language)``. ``at`` schedules the split (and
    with it the whole post) for that moment; ``cancel_post`` takes it back.
    """
    at = release_time(at)
    by_channel = _rows_by_channel(rows)
    queue = queue_for(post, connection)
    lifetime = _lifetime(at)
    job = dict(
        args=(post.id, batch_size, time.time()),
        job_id=split_job_id(post.id),
        timeout=SPLIT_TIMEOUT_SECONDS,
        retry=JOB_RETRY,
        result_ttl=3600,
        failure_ttl=FAILED_JOB_TTL,
        description=f"{post.title[:60]} (into batches)",
    )
    with connection.pipeline() as pipe:
        _write_post(pipe, post, by_channel, lifetime)
        payload = json.dumps(
            [row for group in by_channel.values() for row in group],
            separators=(",", ":"),
        )
        pipe.set(recipients_key(post.id), payload, ex=lifetime)
        if at is None:
            queue.enqueue_many([Queue.prepare_data(SPLIT_POST, **job)], pipeline=pipe)
        else:
            queue.schedule_job(queue.create_job(SPLIT_POST, **job), at, pipeline=pipe)
        pipe.execute()
    return sum(len(group) for group in by_channel.values())


def split_post(post_id, batch_size=DEFAULT_BATCH_SIZE, handed_over_at=None):
    """Job: turn a handed-over post's recipients into batch jobs (on the post's queue).

    Recipients who left after the post was handed over (Plone lists them in
    ``messenger:left``; a post scheduled for next week was handed over today) are dropped.

    The batches and the removal of the recipients value are one transaction, so a run that
    dies before it wrote them leaves everything for RQ's retry, and a second run after a
    successful one finds nothing left to do. Batch ids are deterministic either way.
    """
    from rq import get_current_job

    from messenger_worker.payload import Post
    from messenger_worker.settings import SettingsCache

    connection = get_current_job().connection
    raw_post, raw_rows = connection.mget(post_key(post_id), recipients_key(post_id))
    if raw_post is None or raw_rows is None:
        return {
            "batches": 0,
            "note": "nothing to split (done before, cancelled or expired)",
        }
    post = Post.from_json(raw_post)
    rows = json.loads(raw_rows)
    channels = {row[1] for row in rows}
    if handed_over_at is not None:
        rows = _without_leavers(connection, rows, handed_over_at)
    document = SettingsCache(connection).current() or {}
    rates = {
        name: values.get("rate", 1.0)
        for name, values in document.get("channels", {}).items()
    }
    by_channel = _rows_by_channel(rows)
    jobs = _batch_jobs(post, by_channel, rates, batch_size)
    queue = queue_for(post, connection)
    with connection.pipeline() as pipe:
        queue.enqueue_many(
            [Queue.prepare_data(DELIVER_BATCH, **job) for job in jobs], pipeline=pipe
        )
        for channel in channels:
            # The counters follow the recipients actually sent to.
            pipe.hset(
                stats_key(post_id),
                f"{channel}:queued",
                len(by_channel.get(channel, ())),
            )
        pipe.delete(recipients_key(post_id))
        pipe.execute()
    return {"batches": len(jobs)}


# Leaves committed this shortly before the hand-over may be missing from the snapshot too.
LEFT_MARGIN_SECONDS = 60


def _without_leavers(connection, rows, handed_over_at):
    if not connection.exists(keys.LEFT_KEY):
        return rows
    kept = []
    for start in range(0, len(rows), 10000):
        chunk = rows[start : start + 10000]
        scores = connection.zmscore(keys.LEFT_KEY, [row[0] for row in chunk])
        kept.extend(
            row
            for row, left in zip(chunk, scores)
            if left is None or left < handed_over_at - LEFT_MARGIN_SECONDS
        )
    return kept


def post_job_prefix(post_id):
    return f"msg-{job_id_part(post_id)}-"


def cancel_post(connection, post_id):
    """Take back a scheduled post: its batches that have not started and its snapshot.

    Returns the number of batches removed. Batches the scheduler already moved to a queue
    (the post's time has come) are left alone: the post is going out.
    """
    prefix = post_job_prefix(post_id)
    removed = 0
    for name in keys.QUEUES:
        registry = ScheduledJobRegistry(
            name, connection=connection, serializer=JSONSerializer
        )
        for job_id in registry.get_job_ids():
            if job_id.startswith(prefix):
                registry.remove(job_id, delete_job=True)
                removed += 1
    if removed:
        connection.delete(
            post_key(post_id), stats_key(post_id), recipients_key(post_id)
        )
    return removed


def scheduled_batches(connection, post_id):
    """How many batches of the post wait for their time."""
    prefix = post_job_prefix(post_id)
    return sum(
        1
        for name in keys.QUEUES
        for job_id in ScheduledJobRegistry(
            name, connection=connection, serializer=JSONSerializer
        ).get_job_ids()
        if job_id.startswith(prefix)
    )
