"""Taking up the jobs of a worker that died, within seconds instead of RQ's minute and a half.

RQ notices an abandoned job when the job's heartbeat entry in the StartedJobRegistry runs out
(60 s after the last heartbeat, which comes every ``job_monitoring_interval``) and a worker's
maintenance (every ``maintenance_interval``) looks: 80 to 110 s after a SIGKILL. So every
messenger worker also holds a short lease of its own: the sorted set ``messenger:workers``
maps the worker's name to the end of its lease (milliseconds, Redis time), renewed every
second by a thread of the worker process. The thread runs in the worker, not in the work
horse, so a horse that sends on after its worker died does not keep the lease alive.

The same thread in every worker sweeps every two seconds, one worker at a time (a lock in
Redis): a job in a StartedJobRegistry whose execution belongs to a worker whose lease ran out
is put back at the front of its queue at once, using one of its RQ retries, or failed when
it has none left. Detection takes at most the lease (5 s) plus one sweep (2 s). Workers
without a lease (plain RQ workers, older versions during an upgrade) are left to RQ.

A job taken up while its old work horse still runs (a worker whose parent died, a stalled
worker) runs twice at once; the recipients' claims are leases too (see ``ledger``), so the
two executions split the batch instead of sending it twice.
"""

import logging
import threading
import time

import redis
from rq.executions import Execution
from rq.job import Job
from rq.job import JobStatus
from rq.job_lifecycle import record_job_failure
from rq.queue import Queue
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.utils import parse_composite_key

log = logging.getLogger("messenger_worker.liveness")

WORKERS_KEY = "messenger:workers"
SWEEP_LOCK_KEY = "messenger:workers:sweep"
RENEW_SECONDS = 1.0
LEASE_SECONDS = 5.0
SWEEP_SECONDS = 2.0
# A worker whose own renewals failed (Redis was away) does not sweep until it has renewed
# for a whole lease again: the others had no chance to renew either.
STEADY_SECONDS = LEASE_SECONDS
# Leases of workers that ended without a word are forgotten after this long.
FORGET_SECONDS = 3600

# KEYS: workers; ARGV: name, lease ms. Renews one worker's lease in Redis time.
RENEW_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return now
"""

# KEYS: workers; ARGV: forget ms. The names of workers whose lease ran out; forgets old ones.
EXPIRED_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
"""


def worker_executions_key(name):
    # RQ's index of the executions of one worker (rq.executions.WORKER_EXECUTIONS_KEY_TEMPLATE).
    return f"rq:worker:{name}:executions"


class Liveness:
    """The lease of one worker and the sweep for dead workers' jobs, in a daemon thread."""

    def __init__(self, connection, name, on_failed=None):
        self.connection = connection
        self.name = name
        # Called with each job that is failed here for good (redaction of its addresses).
        self.on_failed = on_failed
        self._renew = connection.register_script(RENEW_SCRIPT)
        self._expired = connection.register_script(EXPIRED_SCRIPT)
        self._stop = threading.Event()
        self._thread = None
        # When renewals work again after they failed; None while they never failed.
        self._recovered_at = None

    # -- the thread ------------------------------------------------------------------------

    def start(self):
        self.renew()
        self._thread = threading.Thread(
            target=self._run, name="messenger-liveness", daemon=True
        )
        self._thread.start()

    def stop(self):
        """End the lease: a worker that stops in order leaves nothing to take up."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.connection.zrem(WORKERS_KEY, self.name)
        except redis.RedisError:
            pass  # the lease runs out by itself

    def _run(self):
        next_sweep = time.monotonic() + SWEEP_SECONDS
        while not self._stop.wait(RENEW_SECONDS):
            try:
                self.renew()
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + SWEEP_SECONDS
                    if self._steady():
                        self.sweep()
            except redis.RedisError as error:
                self._recovered_at = float("inf")
                log.warning("Worker lease not renewed (%s); trying again.", error)
            except Exception:
                # The thread must outlive any surprise: without it the worker looks dead.
                log.exception("Sweep for jobs of dead workers failed; trying again.")

    def renew(self):
        self._renew(keys=[WORKERS_KEY], args=[self.name, int(LEASE_SECONDS * 1000)])
        if self._recovered_at == float("inf"):
            self._recovered_at = time.monotonic()

    def _steady(self):
        return (
            self._recovered_at is None
            or time.monotonic() - self._recovered_at >= STEADY_SECONDS
        )

    # -- the sweep ---------------------------------------------------------------------------

    def sweep(self):
        """Take up the jobs of workers whose lease ran out; returns the job ids taken up."""
        if not self.connection.set(
            SWEEP_LOCK_KEY, self.name, nx=True, px=int(SWEEP_SECONDS * 1000)
        ):
            return []  # another worker sweeps right now
        taken = []
        for dead in self._expired(keys=[WORKERS_KEY], args=[FORGET_SECONDS * 1000]):
            dead = dead.decode()
            if dead == self.name:
                continue  # our own lease lapsed while we were stalled: we are not dead
            for composite in self.connection.smembers(worker_executions_key(dead)):
                job_id = self.take_up(dead, composite.decode())
                if job_id:
                    taken.append(job_id)
            self.connection.zrem(WORKERS_KEY, dead)
        return taken

    def take_up(self, dead, composite):
        """Requeue (or fail) the job of ``dead``'s execution ``composite``; its id if taken up."""
        job_id, execution_id = parse_composite_key(composite)
        try:
            job = Job.fetch(
                job_id, connection=self.connection, serializer=JSONSerializer
            )
        except Exception:  # gone (deleted, expired) or unreadable: nothing to take up
            self.connection.srem(worker_executions_key(dead), composite)
            return None
        registry = StartedJobRegistry(
            job.origin, connection=self.connection, serializer=JSONSerializer
        )
        # Whoever removes the execution from the registry takes the job up: RQ's own
        # clean-up of abandoned jobs and this sweep never both do.
        if (
            not self.connection.zrem(registry.key, composite)
            or job.get_status() != JobStatus.STARTED
        ):
            self.connection.srem(worker_executions_key(dead), composite)
            return None
        queue = Queue(job.origin, connection=self.connection, serializer=JSONSerializer)
        execution = Execution(
            execution_id, job_id, connection=self.connection, worker_name=dead
        )
        with self.connection.pipeline() as pipe:
            execution.delete(job, pipe)
            if job.retries_left:
                job.retries_left -= 1
                job.started_at = None
                # As RQ's own Job.retry does (enqueue_job would set up dependencies anew).
                queue._enqueue_job(job, pipeline=pipe, at_front=True)
                failed = False
            else:
                record_job_failure(
                    job, f"Its worker {dead} stopped answering; no retries left.", pipe
                )
                failed = True
            pipe.execute()
        if failed:
            log.warning(
                "Job %s of dead worker %s failed: no retries left.", job.id, dead
            )
            if self.on_failed is not None:
                self.on_failed(job)
        else:
            log.warning(
                "Worker %s stopped answering; its job %s is back on %s (%s retries left).",
                dead,
                job.id,
                job.origin,
                job.retries_left,
            )
        return job.id
