"""Token buckets: the platforms' rate caps, enforced per channel."""

import math
import time


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; ``take`` never waits."""

    def __init__(self, rate, burst=None, clock=time.monotonic):
        self.rate = float(rate)
        self.burst = burst
        self.capacity = float(burst) if burst else max(1.0, self.rate)
        self.tokens = self.capacity
        self.clock = clock
        self.stamp = clock()

    def take(self):
        """0.0 when a token was taken, otherwise the seconds until one will be there."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


def whole_seconds(wait):
    """Platforms ask for whole seconds, and never for zero."""
    return max(1, math.ceil(wait))
