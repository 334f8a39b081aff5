"""Per post bookkeeping in Redis: who was sent what, counters, gone and moved recipients.

Each (post, channel, subscriber) has one mark in the hash ``messenger:post:<id>:marks``:

    c:<execution> <since>   claimed by a job execution that may be sending right now
                            (since: Redis time, seconds)
    r:<attempt>             waiting for a retry
    s:<message id>          sent            g:  gone            f:  failed

A recipient is claimed before it is sent and marked after. A claim is a lease: another
execution takes it over only once it is older than ``CLAIM_LEASE_SECONDS`` (longer than any
send can take), so two executions of one batch running at once (a work horse that sends on
after its worker died, a lost heartbeat, a batch handed over again while it runs) split the
recipients instead of sending them twice: an execution that meets a younger claim of another
one does not send, it hands that recipient to a follow-up job after the lease. A worker
killed between send and booking leaves a claim; after the lease the next execution takes it
over and sends again, so every recipient is sent at least once and a killed worker causes at
most one duplicate. A final mark is never sent again. Marks change only through the scripts
below, which also move the counters, so counting is exact even when a job runs twice.

The marks and errors of a post expire with its stats (set by the fan-out): the scripts give
them the stats' time to live when they create them.
"""

import json
import time

from messenger_worker.ratelimit import GCRA_LUA_FUNCTION

# How long per post data stays in Redis: the editors' status view reads it.
POST_TTL_SECONDS = 30 * 24 * 3600

COUNTERS = ("queued", "sent", "retrying", "gone", "failed", "resent")
# Counted from WhatsApp delivery receipts by Plone's webhook (see ``statuses``).
RECEIPT_COUNTERS = ("delivered", "read", "failed_after_send")

GONE_KEY = "messenger:gone"
MOVED_KEY = "messenger:moved"


def post_key(post_id):
    return f"messenger:post:{post_id}"


def marks_key(post_id):
    return f"messenger:post:{post_id}:marks"


def stats_key(post_id):
    return f"messenger:post:{post_id}:stats"


def errors_key(post_id):
    return f"messenger:post:{post_id}:errors"


# How long a claim holds a recipient against other executions: a send takes at most a few
# requests (a media download, Telegram following a moved chat once) of at most about 13 s
# each (connect + read timeout).
CLAIM_LEASE_SECONDS = 60

# keep_with(key, reference): a key created without a time to live gets the reference's (the
# post's stats), or the post lifetime if the stats are gone; one PTTL per call otherwise.
KEEP_WITH_LUA_FUNCTION = (
    """
local function keep_with(key, reference)
  if redis.call('PTTL', key) == -1 then
    local ttl = redis.call('PTTL', reference)
    if ttl > 0 then
      redis.call('PEXPIRE', key, ttl)
    else
      redis.call('EXPIRE', key, %d)
    end
  end
end
"""
    % POST_TTL_SECONDS
)

# claim(marks, stats, bucket, pause, field, execution, channel, interval_us, tolerance_us, lease)
# -> {"done", mark} | {"busy", seconds left of another execution's claim}
#    | {"wait", microseconds} | {"go", previous mark or ""}
# A claim of an older format ("c:<execution>" without a time) counts as expired.
CLAIM_LUA_FUNCTION = """
local function claim(marks, stats, bucket, pause, field, execution, channel, interval, tolerance, lease)
  local mark = redis.call('HGET', marks, field)
  local prefix = mark and string.sub(mark, 1, 2) or ''
  if prefix == 's:' or prefix == 'g:' or prefix == 'f:' then
    return {'done', mark}
  end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  if prefix == 'c:' then
    local owner, since = string.match(mark, '^c:(%S+) (%S+)$')
    if owner ~= execution then
      local left = (tonumber(since) or 0) + tonumber(lease) - now
      if left > 0 then
        return {'busy', string.format('%.3f', left)}
      end
      redis.call('HINCRBY', stats, channel .. ':resent', 1)
    end
  elseif prefix == 'r:' then
    redis.call('HINCRBY', stats, channel .. ':retrying', -1)
  end
  redis.call('HSET', marks, field, 'c:' .. execution .. ' ' .. string.format('%.3f', now))
  keep_with(marks, stats)
  local wait = take_token(bucket, pause, interval, tolerance)
  if wait > 0 then
    return {'wait', tostring(wait)}
  end
  return {'go', mark or ''}
end
"""

# record(marks, stats, field, new mark, channel, counter, now): moves a claimed (or retry
# pending) recipient to its outcome; a second call for the same outcome changes nothing.
# It books over any claim: the message went out, whoever holds the recipient now.
RECORD_LUA_FUNCTION = """
local function record(marks, stats, field, new_mark, channel, counter, now)
  local mark = redis.call('HGET', marks, field)
  if mark then
    local prefix = string.sub(mark, 1, 2)
    if prefix == 'r:' then
      redis.call('HINCRBY', stats, channel .. ':retrying', -1)
    elseif prefix ~= 'c:' then
      return 0
    end
  end
  redis.call('HSET', marks, field, new_mark)
  keep_with(marks, stats)
  redis.call('HINCRBY', stats, channel .. ':' .. counter, 1)
  if counter == 'sent' then
    redis.call('HSETNX', stats, channel .. ':first_sent', now)
    redis.call('HSET', stats, channel .. ':last_sent', now)
  end
  return 1
end
"""

# KEYS: marks, stats, rate bucket, rate pause
# ARGV: field, execution, channel, interval, tolerance, lease
CLAIM_SCRIPT = (
    GCRA_LUA_FUNCTION
    + KEEP_WITH_LUA_FUNCTION
    + CLAIM_LUA_FUNCTION
    + """
return claim(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
"""
)

# KEYS: marks, stats; ARGV: field, new mark, channel, counter, now
RECORD_SCRIPT = (
    KEEP_WITH_LUA_FUNCTION
    + RECORD_LUA_FUNCTION
    + """
return record(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
"""
)

# Book one recipient and claim the next in one call: the hot path, one round trip a message.
# KEYS: marks, stats, rate bucket, rate pause
# ARGV: field, new mark, channel, counter, now, next field, execution, interval, tolerance, lease
BOOK_AND_CLAIM_SCRIPT = (
    GCRA_LUA_FUNCTION
    + KEEP_WITH_LUA_FUNCTION
    + CLAIM_LUA_FUNCTION
    + RECORD_LUA_FUNCTION
    + """
record(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return claim(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[6], ARGV[7], ARGV[3], ARGV[8], ARGV[9], ARGV[10])
"""
)

# KEYS: marks; ARGV: field, execution. Gives our claim back (the recipient was not sent).
RELEASE_SCRIPT = """
local mark = redis.call('HGET', KEYS[1], ARGV[1])
if mark and string.sub(mark, 1, 3 + #ARGV[2]) == 'c:' .. ARGV[2] .. ' ' then
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""

# KEYS: errors, stats; ARGV: field, reason. The reason a recipient failed, kept with the post.
NOTE_ERROR_SCRIPT = (
    KEEP_WITH_LUA_FUNCTION
    + """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
keep_with(KEYS[1], KEYS[2])
return 0
"""
)


class Ledger:
    """The marks and counters of one post on one channel."""

    def __init__(self, connection, post_id, channel):
        self.connection = connection
        self.post_id = post_id
        self.channel = channel
        self.keys = (marks_key(post_id), stats_key(post_id))
        self.load_scripts()

    def load_scripts(self):
        """Load the scripts into Redis (again after a restart emptied its script cache).

        Calling them by SHA directly, instead of through redis-py's Script objects, spares
        a pipeline the SCRIPT EXISTS round trip redis-py adds before every execute.
        """
        load = self.connection.script_load
        self._claim_sha = load(CLAIM_SCRIPT)
        self._record_sha = load(RECORD_SCRIPT)
        self._release_sha = load(RELEASE_SCRIPT)
        self._book_and_claim_sha = load(BOOK_AND_CLAIM_SCRIPT)
        self._note_error_sha = load(NOTE_ERROR_SCRIPT)

    def field(self, recipient):
        return f"{self.channel}:{recipient.subscriber_id}"

    def claim(self, recipient, execution, bucket, pipeline=None):
        """Claim ``recipient`` and take a rate token (see CLAIM_LUA_FUNCTION for the answer)."""
        return (pipeline or self.connection).evalsha(
            self._claim_sha,
            4,
            *self.keys,
            *bucket.keys,
            self.field(recipient),
            execution,
            self.channel,
            bucket.interval_us,
            bucket.tolerance_us,
            CLAIM_LEASE_SECONDS,
        )

    def release(self, recipient, execution):
        self.connection.evalsha(
            self._release_sha, 1, self.keys[0], self.field(recipient), execution
        )

    def sent_and_claim(
        self, recipient, message_id, following, execution, bucket, pipeline=None
    ):
        """Book ``recipient`` as sent and claim ``following``: one round trip."""
        return (pipeline or self.connection).evalsha(
            self._book_and_claim_sha,
            4,
            *self.keys,
            *bucket.keys,
            self.field(recipient),
            f"s:{message_id}",
            self.channel,
            "sent",
            f"{time.time():.3f}",
            self.field(following),
            execution,
            bucket.interval_us,
            bucket.tolerance_us,
            CLAIM_LEASE_SECONDS,
        )

    def record(self, pipeline, recipient, mark, counter):
        pipeline.evalsha(
            self._record_sha,
            2,
            *self.keys,
            self.field(recipient),
            mark,
            self.channel,
            counter,
            f"{time.time():.3f}",
        )

    def sent(self, pipeline, recipient, message_id):
        self.record(pipeline, recipient, f"s:{message_id}", "sent")

    def retrying(self, pipeline, recipient, attempt):
        self.record(pipeline, recipient, f"r:{attempt}", "retrying")

    def gone(self, pipeline, recipient, reason):
        self.record(pipeline, recipient, "g:", "gone")
        pipeline.hset(
            GONE_KEY,
            self.field(recipient),
            json.dumps({
                "reason": reason,
                "post": self.post_id,
                "at": round(time.time(), 3),
            }),
        )

    def failed(self, pipeline, recipient, reason):
        self.record(pipeline, recipient, "f:", "failed")
        pipeline.evalsha(
            self._note_error_sha,
            2,
            errors_key(self.post_id),
            self.keys[1],
            self.field(recipient),
            reason,
        )
        pipeline.hset(stats_key(self.post_id), f"{self.channel}:last_error", reason)

    def moved(self, pipeline, recipient, new_address):
        pipeline.hset(MOVED_KEY, self.field(recipient), new_address)


def read_stats(connection, post_id):
    """{channel: {counter: value}} for a post, as the status views show it."""
    stats = {}
    for field, value in connection.hgetall(stats_key(post_id)).items():
        channel, _sep, name = field.decode().partition(":")
        value = value.decode()
        if name in COUNTERS or name in RECEIPT_COUNTERS:
            value = int(value)
        elif name in ("first_sent", "last_sent"):
            value = float(value)
        stats.setdefault(channel, {})[name] = value
    return stats
