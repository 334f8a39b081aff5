"""The RQ worker class: JSON jobs, quick recovery of abandoned jobs, and a graceful stop.

On SIGTERM (or Ctrl-C) RQ lets the current job finish. A batch of 500 recipients at one
message per second (Signal) would keep the worker for minutes, so the stop request is passed
on to the job, which finishes the recipient at hand and puts the rest back on the queue.
"""

import importlib
import os
import signal

from rq import Worker
from rq.serializers import JSONSerializer

from messenger_worker import delivery
from messenger_worker import jobs  # noqa: F401  (imported once, not per work horse)
from messenger_worker import replies  # noqa: F401  (imported once, not per work horse)
from messenger_worker.channels import CHANNEL_MODULES

# Imported once here instead of in every forked work horse.
for _module in CHANNEL_MODULES.values():
    importlib.import_module(_module)


class MessengerWorker(Worker):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("serializer", JSONSerializer)
        # Heartbeats every 10 s, registry clean-ups every 30 s, and an idle worker wakes up
        # every 30 s to do them (RQ waits worker_ttl - 15 s for a job): a job whose worker
        # died is found and run again within about two minutes instead of ten or more.
        kwargs.setdefault("job_monitoring_interval", 10)
        kwargs.setdefault("maintenance_interval", 30)
        kwargs.setdefault("worker_ttl", 45)
        super().__init__(*args, **kwargs)

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
