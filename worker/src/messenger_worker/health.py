"""What an operator or admin needs to know about the delivery side, read from Redis."""

import redis
from rq import Queue
from rq import Worker

from messenger_worker import keys
from messenger_worker import settings
from messenger_worker.pauses import ChannelPauses


def collect(connection):
    """A JSON-serialisable snapshot of Redis, queues, workers and published settings.

    Never raises for an unreachable Redis: the answer says so instead, because the callers
    (control panel, ``messenger-worker status``) must show that state, not crash on it.
    """
    try:
        info = connection.info("server")
    except redis.RedisError as error:
        return {"reachable": False, "error": str(error)}
    queues = []
    for name in keys.QUEUES:
        queue = Queue(name, connection=connection)
        queues.append({
            "name": name,
            "queued": queue.count,
            "started": queue.started_job_registry.count,
            "scheduled": queue.scheduled_job_registry.count,
            "failed": queue.failed_job_registry.count,
        })
    workers = [
        {
            "name": worker.name,
            "hostname": worker.hostname or "",
            "state": str(worker.get_state()),
            "queues": worker.queue_names(),
        }
        for worker in Worker.all(connection=connection)
        if set(worker.queue_names()) & set(keys.QUEUES)
    ]
    version, fingerprint = settings.published_state(connection)
    return {
        "reachable": True,
        "redis_version": info.get("redis_version", ""),
        "queues": queues,
        "workers": workers,
        "settings_version": version,
        "settings_digest": fingerprint,
        "paused": ChannelPauses(connection).all(),
    }
