"""No addresses in batch jobs that failed for good.

A batch job carries its recipients' addresses (phone numbers, chat ids) in its arguments.
A finished batch is deleted at once (``fanout.BATCH_RESULT_TTL``); a batch that failed for
good stays in RQ's FailedJobRegistry for a week so an admin can see and retry it, and there
it keeps the subscriber ids but not the addresses: each recipient becomes
``[subscriber_id, channel, "", language]`` and the job's meta says ``addresses_removed``.

The worker redacts a batch the moment it fails for good; ``redact_failed_jobs`` also looks
through the failed-job registries (each worker's maintenance) for failures recorded
elsewhere (RQ's own clean-up of abandoned jobs, which any RQ client may run).

Retrying such a job from the dashboard looks the addresses up again in Plone's subscriber
store (``collective.messenger.browser.dashboard_jobs``); a job put back otherwise
(``rq requeue``) fails those recipients with a reason that says so (``jobs.NO_ADDRESS``).
"""

import json
import logging

from rq.job import Job
from rq.job import JobStatus
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from messenger_worker import keys
from messenger_worker.fanout import DELIVER_BATCH
from messenger_worker.payload import RECIPIENT_FIELDS

log = logging.getLogger("messenger_worker.redaction")

REDACTED = "addresses_removed"
CHUNK = 200


def has_addresses(job):
    return job.func_name == DELIVER_BATCH and not job.meta.get(REDACTED)


def redact(job):
    """Drop the addresses from batch ``job`` (a failed one) and save it; True if it had any."""
    if not has_addresses(job):
        return False
    post_id, channel, rows, *rest = job.args
    # A malformed row (the job failed on it, see payload.Recipient.from_list) goes as a whole:
    # which of its values is the address cannot be known, and it could not be sent anyway.
    job.args = (
        post_id,
        channel,
        [[row[0], row[1], "", row[3]] for row in rows if _well_formed(row)],
        *rest,
    )
    job.meta[REDACTED] = True
    job.save()
    return True


def _well_formed(row):
    return isinstance(row, (list, tuple)) and len(row) == len(RECIPIENT_FIELDS)


def _unredacted(connection, ids):
    """The ids among ``ids`` whose job's meta does not say it was redacted (one round trip)."""
    with connection.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(Job.key_for(job_id), "meta")
        metas = pipe.execute()
    return [
        job_id
        for job_id, meta in zip(ids, metas)
        if not (meta and json.loads(meta).get(REDACTED) is True)
    ]


def redact_failed_jobs(connection):
    """Redact every failed batch of the messenger queues that still has addresses."""
    redacted = 0
    for name in keys.QUEUES:
        registry = FailedJobRegistry(
            name, connection=connection, serializer=JSONSerializer
        )
        ids = registry.get_job_ids(cleanup=False)
        for start in range(0, len(ids), CHUNK):
            # Only the meta of jobs redacted before is read: a week of failures stays cheap.
            chunk = _unredacted(connection, ids[start : start + CHUNK])
            for job in Job.fetch_many(
                chunk, connection=connection, serializer=JSONSerializer
            ):
                if (
                    job is not None
                    and job.get_status(refresh=False) == JobStatus.FAILED
                    and redact(job)
                ):
                    redacted += 1
    if redacted:
        log.info("Removed the addresses from %d failed batch jobs.", redacted)
    return redacted
