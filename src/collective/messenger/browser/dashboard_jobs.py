"""Failed delivery jobs for the dashboard: list them, put them back on their queue.

A job lands in RQ's FailedJobRegistry when it raised after all its retries (a post snapshot
that expired, Redis trouble that outlasted the job's own waiting). Recipients a job had
already booked are never sent twice (the ledger's marks), so a retry is always safe.
Jobs use RQ's JSONSerializer (see messenger_worker.fanout), so the registries need it too.

A failed batch keeps its subscriber ids but not their addresses (messenger_worker.redaction):
a retry looks the addresses up again in the subscriber store, and leaves out whoever is no
longer subscribed on that channel.
"""

from dataclasses import dataclass
from datetime import datetime

from rq.exceptions import InvalidJobOperation
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from collective.messenger.subscribers import get_store
from messenger_worker import keys
from messenger_worker import redaction
from messenger_worker.fanout import DELIVER_BATCH

# The dashboard lists the newest ones; "Retry all" takes every one.
LIST_LIMIT = 50
DESCRIPTION_LIMIT = 200
ERROR_LIMIT = 300
JOB_ID_LIMIT = 300


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    description: str
    error: str  # the last line of the traceback: what went wrong, without the stack
    ended_at: datetime | None


def registry(name, connection):
    return FailedJobRegistry(name, connection=connection, serializer=JSONSerializer)


def failed_count(connection):
    return sum(registry(name, connection).count for name in keys.QUEUES)


def failed_jobs(connection, limit=LIST_LIMIT):
    """The newest ``limit`` failed jobs of the three messenger queues, newest first."""
    found = []
    for name in keys.QUEUES:
        ids = registry(name, connection).get_job_ids(0, limit - 1, desc=True)
        for job in Job.fetch_many(
            ids, connection=connection, serializer=JSONSerializer
        ):
            if job is not None:  # expired between listing and fetching
                found.append(describe(job, name))
    found.sort(key=lambda job: job.ended_at or datetime.min, reverse=True)
    return found[:limit]


def describe(job, queue):
    return FailedJob(
        id=job.id,
        queue=queue,
        description=(job.description or job.func_name or "")[:DESCRIPTION_LIMIT],
        error=error_summary(job),
        ended_at=job.ended_at,
    )


def error_summary(job):
    """The exception line of the job's latest failure, e.g. "RuntimeError: ..."."""
    result = job.latest_result()
    text = (getattr(result, "exc_string", None) or "").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:ERROR_LIMIT] if lines else ""


def restore_addresses(job, store):
    """Give a redacted batch its recipients' current addresses back (and save it).

    Subscribers who left, were deleted or moved to another channel are left out.
    """
    if job.func_name != DELIVER_BATCH or not job.meta.get(redaction.REDACTED):
        return
    post_id, channel, rows, *rest = job.args
    recipients = []
    for subscriber_id, row_channel, _address, language in rows:
        subscriber = store.get(subscriber_id) if store is not None else None
        if (
            subscriber is not None
            and subscriber.is_active
            and subscriber.channel == row_channel
        ):
            recipients.append([
                subscriber_id,
                row_channel,
                subscriber.address,
                subscriber.language or language,
            ])
    job.args = (post_id, channel, recipients, *rest)
    # False, not deleted: RQ does not write an empty meta, the old one would stay.
    job.meta[redaction.REDACTED] = False
    job.save()


def _requeue(failed, job_id, store):
    job = Job.fetch(job_id, connection=failed.connection, serializer=JSONSerializer)
    restore_addresses(job, store)
    failed.requeue(job)


def retry_job(connection, job_id):
    """Put failed job ``job_id`` back on its queue; False if it is not failed (any more)."""
    if not isinstance(job_id, str) or not job_id or len(job_id) > JOB_ID_LIMIT:
        return False
    for name in keys.QUEUES:
        failed = registry(name, connection)
        if job_id in failed:
            try:
                _requeue(failed, job_id, get_store(create=False))
            except (InvalidJobOperation, NoSuchJobError):
                return False  # someone else retried it, or it expired, just now
            return True
    return False


def retry_all(connection):
    """Put every failed job of the messenger queues back; returns how many."""
    retried = 0
    store = get_store(create=False)
    for name in keys.QUEUES:
        failed = registry(name, connection)
        for job_id in failed.get_job_ids():
            try:
                _requeue(failed, job_id, store)
            except (InvalidJobOperation, NoSuchJobError):
                continue
            retried += 1
    return retried
