"""Replies to one citizen (welcome, goodbye, confirmation codes) as RQ jobs.

Plone enqueues a reply after its transaction committed, never inside a request::

    from messenger_worker.replies import enqueue_reply
    enqueue_reply(redis, f"welcome-{subscriber.id}", recipient, text)

``reply_id`` is chosen by the caller and names the reply for good: the job id is derived from
it, and the mark ``messenger:reply:<reply_id>`` (kept 7 days) records what became of it, so
enqueueing the same reply twice, or a job that runs twice, sends it once.

The job carries the reply id and the channel, never the address or the text (a confirmation
code, a manage link): those wait in ``messenger:reply:<reply_id>:content`` for at most
``CONTENT_TTL_SECONDS`` and are deleted the moment the reply reached a final outcome (sent,
gone, failed). A reply not sent by then fails with a reason that says so.

A reply goes out like a post to one recipient: it takes a token from the channel's shared
rate bucket (posts and replies together never exceed the channel's rate), is sent with the
channel's ``send_text`` and classified the same way (sent, retry, gone, failed, pause).

The mark, a string:

    c:<execution> <since>  claimed: a job execution may be sending right now (since: Redis time)
    r:<attempt>            waiting for a retry
    s:<message id>         sent        g:<reason>  gone        f:<reason>  failed

A reply with a final mark (s, g, f) is never sent again. A worker killed mid-send leaves a
claim; once the claim is older than ``CLAIM_LEASE_SECONDS`` (longer than any send can take)
the next run takes it over and sends again, so a killed worker causes at most one duplicate
(counted as ``resent``). A run that finds a younger claim of another execution does not
send; it looks again when the lease ends.
"""

import hashlib
import json
import logging
import time
import uuid
from datetime import timedelta

from rq import get_current_job
from rq import Queue
from rq.exceptions import DuplicateJobError
from rq.job import JobStatus
from rq.serializers import JSONSerializer

from messenger_worker import delivery
from messenger_worker import keys
from messenger_worker import settings as settings_contract
from messenger_worker.channels import base
from messenger_worker.channels import channel_class
from messenger_worker.channels import CHANNEL_MODULES
from messenger_worker.fanout import FAILED_JOB_TTL
from messenger_worker.fanout import job_id_part
from messenger_worker.fanout import JOB_RETRY
from messenger_worker.ledger import GONE_KEY
from messenger_worker.ledger import MOVED_KEY
from messenger_worker.pauses import ChannelPauses
from messenger_worker.payload import Recipient
from messenger_worker.ratelimit import MAX_SLEEP_SECONDS
from messenger_worker.ratelimit import RateBucket
from messenger_worker.readiness import channel_readiness

log = logging.getLogger("messenger_worker.replies")

SEND_REPLY = "messenger_worker.replies.send_reply"
QUEUE = keys.QUEUE_LOW

REPLY_TTL_SECONDS = 7 * 24 * 3600
STATS_KEY = "messenger:replies:stats"
COUNTERS = ("sent", "retrying", "gone", "failed", "resent")

# A send takes at most two requests (Telegram follows a moved chat once) of at most about
# 13 s each (connect + read timeout); a claim older than this belongs to a dead execution.
CLAIM_LEASE_SECONDS = 60
# A rate token further away than this is not waited for in the job: the reply comes back later.
INLINE_WAIT_SECONDS = 5.0
JOB_TIMEOUT_SECONDS = 180
# How long a reply's address and text stay in Redis at most: longer than its retries take
# (back-off of at most a few minutes), shorter than a confirmation code is valid elsewhere.
CONTENT_TTL_SECONDS = 30 * 60
RESULT_TTL_SECONDS = 3600
DESCRIPTION_LIMIT = 60

FINAL_PREFIXES = ("s:", "g:", "f:")


def reply_key(reply_id):
    return f"messenger:reply:{reply_id}"


def content_key(reply_id):
    return f"messenger:reply:{reply_id}:content"


def store_content(connection, reply_id, recipient, text):
    """Keep the reply's recipient and text for its job, for ``CONTENT_TTL_SECONDS``."""
    content = json.dumps(
        {"recipient": recipient.to_list(), "text": text}, ensure_ascii=False
    )
    connection.set(content_key(reply_id), content, ex=CONTENT_TTL_SECONDS)


def read_content(connection, reply_id):
    """(recipient, text) of a reply waiting to be sent, or None (sent, failed or expired)."""
    raw = connection.get(content_key(reply_id))
    if raw is None:
        return None
    content = json.loads(raw)
    return Recipient.from_list(content["recipient"]), content["text"]


def reply_job_id(reply_id):
    """The RQ job id of ``reply_id``: readable, and distinct for distinct reply ids.

    RQ allows letters, digits, "_" and "-" in job ids; other characters become "_", so a
    short hash of the exact reply id keeps "welcome-1" and "welcome_1" apart.
    """
    reply_id = str(reply_id)
    digest = hashlib.sha1(reply_id.encode("utf-8")).hexdigest()[:10]
    return f"reply-{job_id_part(reply_id)[:80]}-{digest}"


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def is_final(mark):
    mark = _text(mark)
    return bool(mark) and mark.startswith(FINAL_PREFIXES)


# -- enqueueing (Plone side) -----------------------------------------------------------------


def enqueue_reply(connection, reply_id, recipient, text):
    """Enqueue ``text`` for ``recipient`` (a ``payload.Recipient``) once; returns the job id.

    Enqueueing a reply that is already queued, scheduled, running or sent changes nothing.
    A reply whose earlier job failed for good (e.g. Redis trouble five times over) and was not
    sent is enqueued afresh.
    """
    if not reply_id:
        raise ValueError("A reply needs a reply_id.")
    if recipient.channel not in CHANNEL_MODULES:
        raise ValueError(
            f"Unknown channel {recipient.channel!r}; known: {', '.join(CHANNEL_MODULES)}"
        )
    job_id = reply_job_id(reply_id)
    if is_final(connection.get(reply_key(reply_id))):
        return job_id
    store_content(connection, reply_id, recipient, text)
    queue = Queue(QUEUE, connection=connection, serializer=JSONSerializer)
    options = dict(
        job_id=job_id,
        job_timeout=JOB_TIMEOUT_SECONDS,
        retry=JOB_RETRY,
        result_ttl=RESULT_TTL_SECONDS,
        failure_ttl=FAILED_JOB_TTL,
        # Set, so RQ does not describe the job by its call.
        description=f"reply {str(reply_id)[:DESCRIPTION_LIMIT]} ({recipient.channel})",
    )
    args = (str(reply_id), recipient.channel, 0)
    try:
        queue.enqueue(SEND_REPLY, *args, unique=True, **options)
    except DuplicateJobError:
        job = queue.fetch_job(job_id)
        if job is not None and job.get_status() in (
            JobStatus.FAILED,
            JobStatus.STOPPED,
            JobStatus.CANCELED,
        ):
            job.delete()
            try:
                queue.enqueue(SEND_REPLY, *args, unique=True, **options)
            except DuplicateJobError:
                pass  # somebody else enqueued it in between: fine
    return job_id


# -- marks and counters ----------------------------------------------------------------------

# KEYS: mark, stats; ARGV: execution, lease seconds, ttl, channel
# -> {"done", mark} | {"busy", seconds left of another execution's claim} | {"go", previous mark}
CLAIM_SCRIPT = """
local mark = redis.call('GET', KEYS[1])
local prefix = mark and string.sub(mark, 1, 2) or ''
if prefix == 's:' or prefix == 'g:' or prefix == 'f:' then
  return {'done', mark}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
if prefix == 'c:' then
  local owner, since = string.match(mark, '^c:(%S+) (%S+)$')
  if owner ~= ARGV[1] then
    local left = (tonumber(since) or 0) + tonumber(ARGV[2]) - now
    if left > 0 then
      return {'busy', string.format('%.3f', left)}
    end
    redis.call('HINCRBY', KEYS[2], ARGV[4] .. ':resent', 1)
  end
elseif prefix == 'r:' then
  redis.call('HINCRBY', KEYS[2], ARGV[4] .. ':retrying', -1)
end
redis.call('SET', KEYS[1], 'c:' .. ARGV[1] .. ' ' .. string.format('%.3f', now), 'EX', ARGV[3])
return {'go', mark or ''}
"""

# KEYS: mark, stats, gone, moved, content
# ARGV: execution, new mark, ttl, channel, counter, hash field, gone record, new address, error
# Books an outcome over our own claim, a pending retry or no mark; never over a final mark or
# another execution's claim. A final outcome deletes the reply's address and text. Returns 1
# if booked.
BOOK_SCRIPT = """
local mark = redis.call('GET', KEYS[1])
if mark then
  local prefix = string.sub(mark, 1, 2)
  if prefix == 'r:' then
    redis.call('HINCRBY', KEYS[2], ARGV[4] .. ':retrying', -1)
  elseif prefix ~= 'c:' or string.sub(mark, 3, 3 + #ARGV[1]) ~= ARGV[1] .. ' ' then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
if string.sub(ARGV[2], 1, 2) ~= 'r:' then
  redis.call('DEL', KEYS[5])
end
redis.call('HINCRBY', KEYS[2], ARGV[4] .. ':' .. ARGV[5], 1)
if ARGV[5] == 'sent' then
  redis.call('HSET', KEYS[2], ARGV[4] .. ':last_sent', redis.call('TIME')[1])
end
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[6], ARGV[7])
end
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[4], ARGV[6], ARGV[8])
end
if ARGV[9] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[4] .. ':last_error', ARGV[9])
end
return 1
"""

# KEYS: mark; ARGV: execution. Gives our claim back (the reply was not sent).
RELEASE_SCRIPT = """
local mark = redis.call('GET', KEYS[1])
if mark and string.sub(mark, 1, 3 + #ARGV[1]) == 'c:' .. ARGV[1] .. ' ' then
  redis.call('DEL', KEYS[1])
end
return 0
"""


class ReplyMarks:
    """The mark of one reply and the reply counters of its channel."""

    def __init__(self, connection, reply_id, channel, subscriber_id=""):
        self.connection = connection
        self.reply_id = reply_id
        self.channel = channel
        self.subscriber_id = subscriber_id
        self.key = reply_key(reply_id)
        self._claim = connection.register_script(CLAIM_SCRIPT)
        self._book = connection.register_script(BOOK_SCRIPT)
        self._release = connection.register_script(RELEASE_SCRIPT)

    @property
    def field(self):
        # The field ledger.Ledger uses in messenger:gone and messenger:moved.
        return f"{self.channel}:{self.subscriber_id}"

    def current(self):
        return _text(self.connection.get(self.key))

    def claim(self, execution):
        state, detail = self._claim(
            keys=[self.key, STATS_KEY],
            args=[execution, CLAIM_LEASE_SECONDS, REPLY_TTL_SECONDS, self.channel],
        )
        return _text(state), _text(detail)

    def release(self, execution):
        self._release(keys=[self.key], args=[execution])

    def book(self, execution, mark, counter, gone=None, new_address=None, error=None):
        record = ""
        if gone is not None:
            # The same record as ledger.Ledger.gone, so Plone handles both alike; "post" is
            # empty and "reply" says which reply found out.
            record = json.dumps({
                "reason": gone,
                "post": None,
                "reply": self.reply_id,
                "at": round(time.time(), 3),
            })
        return self._book(
            keys=[self.key, STATS_KEY, GONE_KEY, MOVED_KEY, content_key(self.reply_id)],
            args=[
                execution,
                mark,
                REPLY_TTL_SECONDS,
                self.channel,
                counter,
                self.field,
                record,
                new_address or "",
                error or "",
            ],
        )

    def sent(self, execution, message_id, new_address=None):
        return self.book(
            execution, f"s:{message_id or ''}", "sent", new_address=new_address
        )

    def gone(self, execution, reason):
        return self.book(execution, f"g:{reason}", "gone", gone=reason)

    def failed(self, execution, reason):
        return self.book(execution, f"f:{reason}", "failed", error=reason)

    def retrying(self, execution, attempt):
        return self.book(execution, f"r:{attempt}", "retrying")


def read_stats(connection):
    """{channel: {counter: value}} of all replies, for the admin view."""
    stats = {}
    for field, value in connection.hgetall(STATS_KEY).items():
        channel, _sep, name = _text(field).partition(":")
        value = _text(value)
        if name in COUNTERS or name == "last_sent":
            value = int(value)
        stats.setdefault(channel, {})[name] = value
    return stats


# -- the job (worker side) -------------------------------------------------------------------


def send_reply(reply_id, channel, attempt=0, *legacy):
    """Send reply ``reply_id`` on ``channel`` once; its recipient and text wait in
    ``content_key(reply_id)``."""
    job = get_current_job()
    if isinstance(channel, (list, tuple)):
        # Enqueued before an upgrade as (reply_id, recipient, text, attempt): move the
        # address and text out of the job's arguments into the content value.
        recipient = Recipient.from_list(channel)
        store_content(job.connection, str(reply_id), recipient, attempt)
        channel, attempt = recipient.channel, (legacy[0] if legacy else 0)
    return ReplyDelivery(job.connection, job, str(reply_id), channel, attempt).run()


class ReplyDelivery:
    def __init__(self, connection, job, reply_id, channel, attempt):
        self.connection = connection
        self.job = job
        self.reply_id = reply_id
        self.channel = channel
        self.recipient = None  # from the content value, once read
        self.text = None
        self.attempt = attempt
        # Unique per run of the job, so a rerun can tell its own claim from a dead run's.
        self.execution = f"{job.id}@{uuid.uuid4().hex[:8]}"
        self.marks = ReplyMarks(connection, reply_id, channel)
        self.pauses = ChannelPauses(connection)
        self.backoff_base = delivery.BACKOFF_BASE_SECONDS
        self.pause_recheck = delivery.PAUSE_RECHECK_SECONDS

    def _result(self, outcome, detail=""):
        return {
            "reply": self.reply_id,
            "channel": self.channel,
            "outcome": outcome,
            "detail": detail,
        }

    def _redis(self, operation):
        return delivery.through_outage(operation)

    # -- scheduling follow-up jobs ---------------------------------------------------------

    def _follow_up(self, attempt, suffix, delay):
        """This reply again in ``delay`` seconds, as a new job (the scheduler enqueues it)."""
        queue = Queue(
            self.job.origin or QUEUE,
            connection=self.connection,
            serializer=JSONSerializer,
        )
        root = reply_job_id(self.reply_id)
        queue.enqueue_in(
            timedelta(seconds=max(0.0, delay)),
            SEND_REPLY,
            self.reply_id,
            self.channel,
            attempt,
            job_id=f"{root}-{suffix}-{time.time_ns() // 1_000_000}",
            job_timeout=self.job.timeout or JOB_TIMEOUT_SECONDS,
            retry=JOB_RETRY,
            result_ttl=RESULT_TTL_SECONDS,
            failure_ttl=FAILED_JOB_TTL,
            description=self.job.description,
        )

    # -- one reply -------------------------------------------------------------------------

    def run(self):
        mark = self._redis(self.marks.current)
        if is_final(mark):
            self._redis(lambda: self.connection.delete(content_key(self.reply_id)))
            return self._result("skipped", mark)
        if self.channel not in CHANNEL_MODULES:
            return self._fail_unsent(f"Unknown channel {self.channel!r}.")
        content = self._redis(lambda: read_content(self.connection, self.reply_id))
        if content is None:
            return self._fail_unsent(
                f"Not sent within {CONTENT_TTL_SECONDS // 60} minutes of being enqueued "
                "(channel paused, no worker running); its address and text were removed."
            )
        self.recipient, self.text = content
        self.marks.subscriber_id = self.recipient.subscriber_id
        cache = settings_contract.SettingsCache(self.connection)
        document = cache.require()
        self.backoff_base, self.pause_recheck, attempts = delivery.tuning(document)

        channel_settings, off, pause = channel_readiness(
            document, self.channel, self.pauses, cache.version
        )
        if off:
            return self._fail_unsent(off)
        if not (self.text or "").strip():
            return self._fail_unsent("The reply has no text.")
        if pause:
            log.info(
                "%s is paused (%s); reply %s waits.",
                self.channel,
                pause["reason"],
                self.reply_id,
            )
            self._follow_up(self.attempt, "paused", self.pause_recheck)
            return self._result("paused", pause["reason"])

        with delivery.session_for(channel_settings.get("api_url") or "") as session:
            channel = channel_class(self.channel)(channel_settings, session)
            bucket = RateBucket(
                self.connection,
                self.channel,
                channel.account(),
                channel_settings.get("rate") or 1.0,
            )
            wait = self._take_token(bucket)
            if wait:
                self._follow_up(self.attempt, "wait", wait)
                return self._result("waiting", f"{wait:.3f}")
            refused = self._claim()
            if refused is not None:
                return refused
            try:
                outcome = channel.send_text(self.recipient, self.text)
            except BaseException:
                # Not sent as far as we know; let RQ's retry run it again without waiting
                # for the claim's lease.
                self._redis(lambda: self.marks.release(self.execution))
                raise
        return self._book(outcome, bucket, attempts, cache.version)

    def _take_token(self, bucket):
        """0 once a token is taken; else the seconds until one is due (too long to wait here)."""
        while True:
            wait = self._redis(bucket.try_acquire)
            if wait <= 0:
                return 0
            if wait > INLINE_WAIT_SECONDS or delivery.stop_requested.is_set():
                return wait
            time.sleep(min(wait, MAX_SLEEP_SECONDS))

    def _claim(self):
        """None once this execution holds the reply; else the job's result (done before, or
        another execution holds the claim and may be sending right now: look again later)."""
        state, detail = self._redis(lambda: self.marks.claim(self.execution))
        if state == "done":
            return self._result("skipped", detail)
        if state == "busy":
            self._follow_up(self.attempt, "busy", float(detail) + 1)
            return self._result("busy", detail)
        return None

    def _fail_unsent(self, reason):
        """Fail the reply without sending (settings or the reply itself are wrong)."""
        refused = self._claim()
        if refused is not None:
            return refused
        log.warning(
            "Reply %s to %s failed: %s", self.reply_id, self.marks.field, reason
        )
        self._redis(lambda: self.marks.failed(self.execution, reason))
        return self._result(base.FAILED, reason)

    def _book(self, outcome, bucket, attempts, settings_version):
        execution = self.execution
        # Kept in the mark and the job's result: without the number a platform may quote.
        reason = delivery.without_address(outcome.reason, self.recipient.address)
        if outcome.kind == base.SENT:
            self._redis(
                lambda: self.marks.sent(
                    execution, outcome.message_id, outcome.new_address
                )
            )
            return self._result(base.SENT, outcome.message_id or "")
        if outcome.kind == base.GONE:
            log.info(
                "Reply %s: %s is gone: %s", self.reply_id, self.marks.field, reason
            )
            self._redis(lambda: self.marks.gone(execution, reason))
            return self._result(base.GONE, reason)
        if outcome.kind == base.PAUSE:
            log.warning("Pausing %s: %s", self.channel, outcome.reason)
            self.pauses.pause(self.channel, outcome.reason, settings_version)
            self._redis(lambda: self.marks.release(execution))
            self._follow_up(self.attempt, "paused", self.pause_recheck)
            return self._result("paused", outcome.reason)
        if outcome.kind == base.RETRY:
            if outcome.pause_bucket and outcome.retry_after:
                bucket.pause(outcome.retry_after)
            if self.attempt + 1 >= attempts:
                final = f"Gave up after {attempts} attempts: {reason}"
                log.warning(
                    "Reply %s to %s failed: %s", self.reply_id, self.marks.field, final
                )
                self._redis(lambda: self.marks.failed(execution, final))
                return self._result(base.FAILED, final)
            delay = outcome.retry_after
            if delay is None:
                delay = delivery.backoff(self.attempt + 1, self.backoff_base)
            # Booked before the follow-up is enqueued: a worker killed in between leaves the
            # mark at "retry pending" and RQ runs this job again, which sends it.
            self._redis(lambda: self.marks.retrying(execution, self.attempt + 1))
            self._follow_up(self.attempt + 1, f"retry{self.attempt + 1}", delay)
            return self._result(base.RETRY, reason)
        log.warning(
            "Reply %s to %s failed: %s", self.reply_id, self.marks.field, reason
        )
        self._redis(lambda: self.marks.failed(execution, reason))
        return self._result(base.FAILED, reason)
