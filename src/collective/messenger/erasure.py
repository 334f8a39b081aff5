"""Erase all messenger data of a site: before uninstalling, or to start afresh.

Uninstalling keeps the subscribers (a reinstall finds them again); this is the explicit
other choice, offered at ``@@messenger-erase`` behind a confirmation. What goes:

- every site annotation of this add-on (``collective.messenger.*``): the subscriber store,
  the outbox, the reply outbox, the stored secrets and keys;
- every Redis key starting with ``messenger:`` (post snapshots, statistics, marks, rate
  buckets, the settings published for the workers, secrets included);
- the jobs of the messenger queues with RQ's registries of those queues: their arguments
  hold addresses.

What stays: content (news, Construction Notices), the registry settings (uninstalling
removes them), other applications' Redis keys and RQ queues, and the workers' own
registrations. Redis goes first: when it is unreachable nothing is erased, so a site never
ends half erased with the addresses still in Redis.
"""

import logging

from rq import Queue
from rq.job import Job
from rq.registry import CanceledJobRegistry
from rq.registry import DeferredJobRegistry
from rq.registry import FailedJobRegistry
from rq.registry import FinishedJobRegistry
from rq.registry import ScheduledJobRegistry
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from zope.annotation.interfaces import IAnnotations

from collective.messenger.publishing.outbox import ANNOTATION_KEY as OUTBOX_KEY
from collective.messenger.redis_client import get_redis
from collective.messenger.subscribers.access import ANNOTATION_KEY as STORE_KEY
from messenger_worker import keys

log = logging.getLogger("collective.messenger")

ANNOTATION_PREFIX = "collective.messenger."
REDIS_PATTERN = "messenger:*"
REGISTRIES = (
    StartedJobRegistry,
    FinishedJobRegistry,
    FailedJobRegistry,
    DeferredJobRegistry,
    ScheduledJobRegistry,
    CanceledJobRegistry,
)
BATCH = 500


def our_annotations(site):
    annotations = IAnnotations(site)
    return sorted(
        key for key in annotations.keys() if str(key).startswith(ANNOTATION_PREFIX)
    )


def inventory(site, connection=None):
    """What erasing would remove: ``{"subscribers", "posts", "annotations", "redis_keys",
    "jobs"}``. Raises ``redis.RedisError`` when Redis cannot be asked."""
    annotations = IAnnotations(site)
    store = annotations.get(STORE_KEY)
    outbox = annotations.get(OUTBOX_KEY)
    connection = connection or get_redis()
    return {
        "subscribers": store.counts()["total"] if store is not None else 0,
        "posts": outbox.count() if outbox is not None else 0,
        "annotations": our_annotations(site),
        "redis_keys": sum(
            1 for _key in connection.scan_iter(match=REDIS_PATTERN, count=BATCH)
        ),
        "jobs": len(queue_job_ids(connection)),
    }


def queue_job_ids(connection):
    """{job id: queue name} of every job in the messenger queues and their registries."""
    found = {}
    for name in keys.QUEUES:
        queue = Queue(name, connection=connection, serializer=JSONSerializer)
        ids = list(queue.get_job_ids())
        for registry in REGISTRIES:
            ids.extend(
                registry(
                    name, connection=connection, serializer=JSONSerializer
                ).get_job_ids()
            )
        found.update(dict.fromkeys(ids, name))
    return found


def erase_all(site, connection=None, user=""):
    """Erase everything named above; returns what ``inventory`` counted before.

    Raises ``redis.RedisError`` before anything is erased when Redis cannot be reached
    (a failure halfway leaves the site data untouched: erasing again finishes the job).
    """
    connection = connection or get_redis()
    counted = inventory(site, connection)
    _erase_queues(connection)
    _erase_keys(connection)
    annotations = IAnnotations(site)
    for key in counted["annotations"]:
        del annotations[key]
    log.warning(
        "%s erased all messenger data: %d subscribers, %d posts, %d Redis keys, %d jobs, "
        "annotations %s. Old revisions stay in the ZODB until it is packed.",
        user or "Someone",
        counted["subscribers"],
        counted["posts"],
        counted["redis_keys"],
        counted["jobs"],
        ", ".join(counted["annotations"]) or "none",
    )
    return counted


def _erase_queues(connection):
    jobs = list(queue_job_ids(connection))
    for start in range(0, len(jobs), BATCH):
        batch = jobs[start : start + BATCH]
        with connection.pipeline() as pipe:
            for job_id in batch:
                # The job hash, its dependents and its results: the arguments hold addresses.
                key = Job.key_for(job_id)
                pipe.unlink(
                    key,
                    f"{key}:dependents",
                    f"{key}:dependencies",
                    f"rq:results:{job_id}",
                )
            pipe.execute()
    for name in keys.QUEUES:
        queue = Queue(name, connection=connection, serializer=JSONSerializer)
        registry_keys = [
            registry(name, connection=connection).key for registry in REGISTRIES
        ]
        intermediate = getattr(queue, "intermediate_queue_key", None)
        connection.unlink(
            queue.key, *registry_keys, *([intermediate] if intermediate else [])
        )
        connection.srem(Queue.redis_queues_keys, queue.key)


def _erase_keys(connection):
    batch = []
    for key in connection.scan_iter(match=REDIS_PATTERN, count=BATCH):
        batch.append(key)
        if len(batch) >= BATCH:
            connection.unlink(*batch)
            batch = []
    if batch:
        connection.unlink(*batch)
