"""The RQ worker class: JSON jobs, quick recovery of abandoned jobs, and a graceful stop.

Each worker holds a lease of a few seconds in Redis and sweeps for jobs of workers whose
lease ran out (``liveness``): a batch whose worker was killed is taken up again within
seconds. Batches that failed for good lose their addresses (``redaction``).

On SIGTERM (or Ctrl-C) RQ lets the current job finish. A batch of 500 recipients at one
message per second (Signal) would keep the worker for minutes, so the stop request is passed
on to the job, which finishes the recipient at hand and puts the rest back on the queue.
"""

import importlib
import os
import signal

import redis
from rq import Worker
from rq.exceptions import InvalidJobOperation
from rq.exceptions import NoSuchJobError
from rq.job import JobStatus
from rq.serializers import JSONSerializer

from messenger_worker import delivery
from messenger_worker import jobs  # noqa: F401  (imported once, not per work horse)
from messenger_worker import redaction
from messenger_worker import replies  # noqa: F401  (imported once, not per work horse)
from messenger_worker.channels import CHANNEL_MODULES
from messenger_worker.liveness import Liveness

# Imported once here instead of in every forked work horse.
for _module in CHANNEL_MODULES.values():
    importlib.import_module(_module)


REDACTION_LOCK_KEY = "messenger:workers:redaction"


class MessengerWorker(Worker):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("serializer", JSONSerializer)
        # Heartbeats every 10 s, registry clean-ups every 30 s, and an idle worker wakes up
        # every 30 s to do them (RQ waits worker_ttl - 15 s for a job): RQ itself finds a
        # job whose worker died within about two minutes instead of ten or more (for workers
        # without a lease; ours are found within seconds, see ``liveness``).
        kwargs.setdefault("job_monitoring_interval", 10)
        kwargs.setdefault("maintenance_interval", 30)
        kwargs.setdefault("worker_ttl", 45)
        super().__init__(*args, **kwargs)
        self.liveness = None

    def register_birth(self):
        super().register_birth()
        self.liveness = Liveness(self.connection, self.name, on_failed=redaction.redact)
        self.liveness.start()

    def register_death(self):
        if self.liveness is not None:
            self.liveness.stop()
        super().register_death()

    def handle_job_failure(
        self, job, queue, started_job_registry=None, exc_string="", execution=None
    ):
        super().handle_job_failure(
            job,
            queue,
            started_job_registry=started_job_registry,
            exc_string=exc_string,
            execution=execution,
        )
        try:
            if job.get_status(refresh=True) == JobStatus.FAILED:
                redaction.redact(job)
        except (redis.RedisError, InvalidJobOperation, NoSuchJobError):
            pass  # Redis away (the maintenance below redacts it later), or the job is gone

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        # Failures recorded elsewhere (RQ's clean-up of abandoned jobs) lose their addresses here.
        if self.connection.set(
            REDACTION_LOCK_KEY,
            self.name,
            nx=True,
            ex=max(1, self.maintenance_interval - 1),
        ):
            redaction.redact_failed_jobs(self.connection)

    def handle_warm_shutdown_request(self):
        super().handle_warm_shutdown_request()
        if self.horse_pid:
            try:
                os.kill(self.horse_pid, signal.SIGUSR1)
            except ProcessLookupError:
                pass

    def setup_work_horse_signals(self):
        super().setup_work_horse_signals()
        # SIGUSR1 from the worker above; SIGTERM when a service manager signals the whole
        # process group. Either way: stop after the current recipient, do not die mid-send.
        signal.signal(signal.SIGUSR1, delivery.request_stop)
        signal.signal(signal.SIGTERM, delivery.request_stop)
