"""Limits on signups per client and on codes per phone number, counted in Redis.

Fixed windows in one Lua call (count and expiry set together, so a key never lives
forever). Shared by every Zope instance behind the load balancer. If Redis is unreachable
the limits are not enforced and a warning is logged: signing up must not depend on the
delivery queue being up, and codes cannot be sent then anyway.
"""

import hashlib
import logging

import redis

from collective.messenger import _
from collective.messenger.errors import MessageError
from collective.messenger.redis_client import get_redis

log = logging.getLogger("collective.messenger")

SIGNUPS_PER_MINUTE = 10
CODES_PER_DAY = 3

_COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
"""


class RateLimited(MessageError):
    def __init__(self, retry_after, message):
        super().__init__(message)
        self.retry_after = int(retry_after)


def client_ip(request):
    """The client's address; behind a proxy Zope reads X-Forwarded-For when the proxy is trusted
    (``trusted-proxy`` in zope.conf), so a client cannot pick its own address."""
    return request.getClientAddr() or request.get("REMOTE_ADDR", "") or "unknown"


def _hashed(text):
    # Keys name no IP address or phone number in clear (they are personal data).
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _count(key, window):
    try:
        count, ttl = get_redis().eval(_COUNT_SCRIPT, 1, key, window)
    except redis.RedisError as error:
        log.warning("Rate limit %s not checked, Redis is unreachable: %s", key.split(":")[2], error)
        return 0, 0
    return int(count), int(ttl)


def limit_signups(ip):
    count, ttl = _count(f"messenger:limit:signup:{_hashed(ip)}", 60)
    if count > SIGNUPS_PER_MINUTE:
        raise RateLimited(
            ttl,
            _(
                "error_rate_signups",
                default="Too many signups from your connection. Please try again in ${seconds} seconds.",
                mapping={"seconds": ttl},
            ),
        )


def limit_codes(address):
    count, ttl = _count(f"messenger:limit:code:{_hashed(address)}", 24 * 3600)
    if count > CODES_PER_DAY:
        hours = max(1, round(ttl / 3600))
        raise RateLimited(
            ttl,
            _(
                "error_rate_codes",
                default="We have already sent 3 codes to this number today. Please try again in "
                "about ${hours} hours.",
                mapping={"hours": hours},
            ),
        )
