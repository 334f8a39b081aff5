"""RQ jobs run by the workers. Enqueued by dotted name (see ``fanout``), arguments in JSON."""

import hashlib
import logging
import math
import time
import uuid
from datetime import timedelta

from rq import get_current_job
from rq import Queue
from rq.serializers import JSONSerializer

from messenger_worker import settings as settings_contract
from messenger_worker import statuses
from messenger_worker.channels import base
from messenger_worker.channels import channel_class
from messenger_worker.delivery import backoff
from messenger_worker.delivery import BACKOFF_BASE_SECONDS
from messenger_worker.delivery import PAUSE_RECHECK_SECONDS
from messenger_worker.delivery import session_for
from messenger_worker.delivery import stop_requested
from messenger_worker.delivery import through_outage
from messenger_worker.delivery import tuning
from messenger_worker.delivery import without_address
from messenger_worker.fanout import BATCH_RESULT_TTL
from messenger_worker.fanout import DELIVER_BATCH
from messenger_worker.fanout import JOB_RETRY
from messenger_worker.fanout import root_job_id
from messenger_worker.ledger import Ledger
from messenger_worker.ledger import post_key
from messenger_worker.pauses import ChannelPauses
from messenger_worker.payload import Post
from messenger_worker.payload import Recipient
from messenger_worker.ratelimit import MAX_SLEEP_SECONDS
from messenger_worker.ratelimit import RateBucket
from messenger_worker.readiness import channel_readiness

log = logging.getLogger("messenger_worker.jobs")

NO_ADDRESS = (
    "No address: the job's addresses were removed when it failed for good; "
    "retry it from the messenger dashboard, which looks them up again."
)


def deliver_batch(post_id, channel, recipients, attempt=0):
    """Send post ``post_id`` to ``recipients`` ([subscriber_id, channel, address, language])."""
    job = get_current_job()
    batch = BatchDelivery(job.connection, job, post_id, channel, attempt)
    return batch.run([Recipient.from_list(values) for values in recipients])


class BatchDelivery:
    def __init__(self, connection, job, post_id, channel, attempt):
        self.connection = connection
        self.job = job
        self.post_id = post_id
        self.channel = channel
        self.attempt = attempt
        # Unique per run of the job, so a rerun can tell its own claims from a dead run's.
        self.execution = f"{job.id}@{uuid.uuid4().hex[:8]}"
        self.ledger = Ledger(connection, post_id, channel)
        self.pauses = ChannelPauses(connection)
        self.backoff_base = BACKOFF_BASE_SECONDS
        self.pause_recheck = PAUSE_RECHECK_SECONDS
        self.summary = dict.fromkeys(base.KINDS, 0)
        self.summary["skipped"] = 0

    # -- scheduling follow-up jobs ---------------------------------------------------------

    def _queue(self):
        return Queue(
            self.job.origin, connection=self.connection, serializer=JSONSerializer
        )

    def _follow_up(self, recipients, attempt, suffix, delay=0):
        if not recipients:
            return
        args = (self.post_id, self.channel, [r.to_list() for r in recipients], attempt)
        # Ids stay short however often a batch is paused or split: the original id, what
        # happened, and which recipients.
        who = hashlib.sha1(
            " ".join(r.subscriber_id for r in recipients).encode()
        ).hexdigest()
        options = dict(
            job_id=f"{root_job_id(self.job.id)}-{suffix}-{who[:10]}-{time.time_ns() // 1_000_000}",
            job_timeout=self.job.timeout,
            retry=JOB_RETRY,
            result_ttl=BATCH_RESULT_TTL,
            failure_ttl=self.job.failure_ttl,
            description=self.job.description,
        )
        queue = self._queue()
        if delay > 0:
            queue.enqueue_in(timedelta(seconds=delay), DELIVER_BATCH, *args, **options)
        else:
            queue.enqueue(DELIVER_BATCH, *args, **options)

    # -- the send loop ---------------------------------------------------------------------

    def run(self, recipients):
        unaddressed = [r for r in recipients if not r.address]
        if unaddressed:
            # A failed job put back by hand (rq requeue) after its addresses were removed.
            log.warning(
                "Batch %s: %d recipients without address: %s",
                self.job.id,
                len(unaddressed),
                NO_ADDRESS,
            )
            self._fail_all(unaddressed, NO_ADDRESS)
            recipients = [r for r in recipients if r.address]
        cache = settings_contract.SettingsCache(self.connection)
        document = cache.require()
        self.backoff_base, self.pause_recheck, attempts = tuning(document)
        channel_settings, off, pause = channel_readiness(
            document, self.channel, self.pauses, cache.version
        )
        if off:
            return self._fail_all(recipients, off)
        if pause:
            log.info(
                "%s is paused (%s); batch %s waits.",
                self.channel,
                pause["reason"],
                self.job.id,
            )
            self._follow_up(recipients, self.attempt, "paused", self.pause_recheck)
            self.summary["paused"] = len(recipients)
            return self.summary

        raw = self.connection.get(post_key(self.post_id))
        if raw is None:
            raise RuntimeError(
                f"The snapshot of post {self.post_id} is not in Redis (expired?)."
            )
        post = Post.from_json(raw)
        with session_for(channel_settings.get("api_url") or "") as session:
            channel = channel_class(self.channel)(channel_settings, session)
            bucket = RateBucket(
                self.connection,
                self.channel,
                channel.account(),
                channel_settings.get("rate") or 1.0,
            )
            self._send_all(post, channel, bucket, recipients, attempts, cache.version)
        return self.summary

    def _fail_all(self, recipients, reason):
        with self.connection.pipeline(transaction=False) as pipe:
            for recipient in recipients:
                self.ledger.failed(pipe, recipient, reason)
            pipe.execute()
        self.summary[base.FAILED] += len(recipients)
        return self.summary

    def _send_all(self, post, channel, bucket, recipients, attempts, settings_version):
        retries = {}  # delay in whole seconds -> recipients
        rest_delay, rest_suffix = (
            0,
            "rest",
        )  # where the unsent rest goes if the loop stops early
        busy, lease_left = (
            [],
            0.0,
        )  # recipients another execution holds, and for how long
        index = 0
        claim = None
        if recipients:
            claim = self._redis(
                lambda: self.ledger.claim(recipients[0], self.execution, bucket)
            )
        while index < len(recipients):
            recipient = recipients[index]
            state, detail = claim[0].decode(), claim[1].decode()
            if state == "wait":
                if stop_requested.is_set():
                    self._redis(lambda: self.ledger.release(recipient, self.execution))
                    break
                time.sleep(min(float(detail) / 1_000_000, MAX_SLEEP_SECONDS))
                claim = self._redis(
                    lambda: self.ledger.claim(recipient, self.execution, bucket)
                )
                continue
            outcome = None
            if state == "done":
                self.summary["skipped"] += 1
            elif state == "busy":
                # Another execution of this batch may be sending to them right now: not us.
                # A follow-up after its lease finds them sent, or takes over a dead run's claim.
                busy.append(recipient)
                lease_left = max(lease_left, float(detail))
            else:
                outcome = channel.send(post, recipient)
                if outcome.kind == base.PAUSE:
                    log.warning("Pausing %s: %s", self.channel, outcome.reason)
                    self.pauses.pause(self.channel, outcome.reason, settings_version)
                    self._redis(lambda: self.ledger.release(recipient, self.execution))
                    rest_delay, rest_suffix = self.pause_recheck, "paused"
                    break
                self._count(outcome, bucket, retries, attempts, recipient)
            index += 1
            following = (
                recipients[index]
                if index < len(recipients) and not stop_requested.is_set()
                else None
            )
            claim = self._redis(
                lambda: self._book_and_claim(
                    recipient, outcome, following, bucket, attempts
                )
            )
            if following is None:
                break
        self._follow_up(recipients[index:], self.attempt, rest_suffix, rest_delay)
        if busy:
            self.summary["busy"] = len(busy)
            self._follow_up(busy, self.attempt, "busy", math.ceil(lease_left) + 1)
        for delay, group in sorted(retries.items()):
            self._follow_up(group, self.attempt + 1, f"retry{self.attempt + 1}", delay)

    def _redis(self, operation):
        return through_outage(operation, reload_scripts=self.ledger.load_scripts)

    def _count(self, outcome, bucket, retries, attempts, recipient):
        """Tally ``outcome`` in this run and plan its retry; Redis is written in _book_and_claim."""
        self.summary[outcome.kind] += 1
        if outcome.kind == base.RETRY:
            if outcome.pause_bucket and outcome.retry_after:
                bucket.pause(outcome.retry_after)
            if self.attempt + 1 < attempts:
                delay = outcome.retry_after
                if delay is None:
                    delay = backoff(self.attempt + 1, self.backoff_base)
                # The scheduler works in whole seconds; grouping by them keeps retry jobs few.
                retries.setdefault(max(1, math.ceil(delay)), []).append(recipient)

    def _book_and_claim(self, recipient, outcome, following, bucket, attempts):
        """Record ``outcome`` and claim ``following``: one round trip, safe to repeat."""
        if (
            outcome is not None
            and outcome.kind == base.SENT
            and not outcome.new_address
            and following
        ):
            if not statuses.tracks(self.channel):
                return self.ledger.sent_and_claim(
                    recipient, outcome.message_id, following, self.execution, bucket
                )
            # Still one round trip: the message id for receipts rides along with the booking.
            with self.connection.pipeline(transaction=False) as pipe:
                statuses.remember(
                    pipe, outcome.message_id, self.post_id, recipient.subscriber_id
                )
                self.ledger.sent_and_claim(
                    recipient,
                    outcome.message_id,
                    following,
                    self.execution,
                    bucket,
                    pipeline=pipe,
                )
                return pipe.execute()[-1]
        with self.connection.pipeline(transaction=False) as pipe:
            if outcome is not None:
                self._book(pipe, recipient, outcome, attempts)
            if following is not None:
                self.ledger.claim(following, self.execution, bucket, pipeline=pipe)
            results = pipe.execute()
        return results[-1] if following is not None else None

    def _book(self, pipe, recipient, outcome, attempts):
        reason = without_address(outcome.reason, recipient.address)
        if outcome.kind == base.SENT:
            self.ledger.sent(pipe, recipient, outcome.message_id)
            if statuses.tracks(self.channel):
                statuses.remember(
                    pipe, outcome.message_id, self.post_id, recipient.subscriber_id
                )
            if outcome.new_address:
                self.ledger.moved(pipe, recipient, outcome.new_address)
        elif outcome.kind == base.GONE:
            self.ledger.gone(pipe, recipient, reason)
        elif outcome.kind == base.FAILED:
            self.ledger.failed(pipe, recipient, reason)
        elif outcome.kind == base.RETRY:
            if self.attempt + 1 >= attempts:
                self.ledger.failed(
                    pipe, recipient, f"Gave up after {attempts} attempts: {reason}"
                )
            else:
                self.ledger.retrying(pipe, recipient, self.attempt + 1)
