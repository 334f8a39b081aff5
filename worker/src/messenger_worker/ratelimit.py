"""One send-rate bucket per channel and sender account, shared by every worker on every host.

The Generic Cell Rate Algorithm keeps one number in Redis, the theoretical arrival time
(TAT) of the next message. A single Lua script reads the server clock, checks the bucket's
pause (a platform's retry-after pauses every worker, not just the one that got the 429) and
either grants a token or says how long to wait; being one script it is atomic across
processes without locks. A tolerance of two message intervals (at most 0.1 s) lets a
worker that woke up late catch up, so the long-run rate equals the configured rate instead
of falling below it, while a burst stays at three messages.
"""

import time

# take_token(bucket, pause, interval_us, tolerance_us) -> microseconds to wait, 0 if taken.
# A Lua function so that ledger.CLAIM_SCRIPT can claim a recipient and take a token in one
# round trip.
GCRA_LUA_FUNCTION = """
local function take_token(bucket, pause, interval, tolerance)
  local now_t = redis.call('TIME')
  local now = tonumber(now_t[1]) * 1000000 + tonumber(now_t[2])
  local paused = redis.call('PTTL', pause)
  if paused > 0 then
    return paused * 1000
  end
  interval = tonumber(interval)
  tolerance = tonumber(tolerance)
  local tat = tonumber(redis.call('GET', bucket) or '0')
  if tat < now then
    tat = now
  end
  local allowed_at = tat - tolerance
  if now < allowed_at then
    return allowed_at - now
  end
  local new_tat = tat + interval
  redis.call('SET', bucket, string.format('%.0f', new_tat), 'PX',
             math.floor((new_tat - now) / 1000) + 1000)
  return 0
end
"""

GCRA_SCRIPT = (
    GCRA_LUA_FUNCTION + "return take_token(KEYS[1], KEYS[2], ARGV[1], ARGV[2])"
)

# How far ahead of its schedule a bucket may run, in message intervals and at most in seconds.
TOLERANCE_INTERVALS = 2
TOLERANCE_MAX_SECONDS = 0.1
# Wake up at least this often while waiting, to notice a stop request.
MAX_SLEEP_SECONDS = 0.5


def bucket_key(channel, account):
    return f"messenger:rate:{channel}:{account}"


def pause_key(channel, account):
    return f"messenger:rate:{channel}:{account}:pause"


class RateBucket:
    def __init__(self, connection, channel, account, rate):
        if not rate or rate <= 0:
            raise ValueError(
                f"The send rate of {channel} must be above 0, not {rate!r}."
            )
        self.connection = connection
        self.keys = [bucket_key(channel, account), pause_key(channel, account)]
        self.interval_us = 1_000_000 / float(rate)
        self.tolerance_us = min(
            TOLERANCE_INTERVALS * self.interval_us, TOLERANCE_MAX_SECONDS * 1_000_000
        )
        self._script = connection.register_script(GCRA_SCRIPT)

    def try_acquire(self):
        """0 if a token was taken, else the seconds to wait before asking again."""
        wait_us = self._script(
            keys=self.keys, args=[self.interval_us, self.tolerance_us]
        )
        return wait_us / 1_000_000

    def acquire(self, should_stop=lambda: False, sleep=time.sleep):
        """Block until a token is taken (True) or ``should_stop()`` turns true (False)."""
        while True:
            wait = self.try_acquire()
            if wait <= 0:
                return True
            if should_stop():
                return False
            sleep(min(wait, MAX_SLEEP_SECONDS))

    def pause(self, seconds):
        """Stop every worker sending on this bucket for ``seconds`` (a platform's retry-after)."""
        milliseconds = max(1, int(seconds * 1000))
        # Never shorten a longer pause another worker already set.
        current = self.connection.pttl(self.keys[1])
        if current < milliseconds:
            self.connection.set(self.keys[1], "1", px=milliseconds)
