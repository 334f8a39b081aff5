"""Limits on signups and manage-link look-ups per client, on codes per phone number, and a
daily budget of codes per channel, counted in Redis.

Fixed windows in one Lua call (count and expiry set together, so a key never lives
forever). Shared by every Zope instance behind the load balancer. Key names carry a keyed
hash (``pseudonyms``), never an IP address or a number in clear. If Redis is unreachable
the limits are not enforced and a warning is logged: signing up must not depend on the
delivery queue being up, and codes cannot be sent then anyway (they wait in the reply
outbox and are sent when Redis is back).
"""

import ipaddress
import logging
from datetime import datetime
from datetime import timedelta

import pytz
import redis
from plone import api

from collective.messenger import _
from collective.messenger.content.dates import portal_timezone
from collective.messenger.errors import MessageError
from collective.messenger.redis_client import get_redis
from collective.messenger.signup.pseudonyms import pseudonym

log = logging.getLogger("collective.messenger")

SIGNUPS_PER_MINUTE = 10
CODES_PER_DAY = 3
# Unknown manage tokens one client may try per window before every look-up of it is refused.
# A manage token has 256 random bits: this only keeps a guesser from hammering the store.
MANAGE_MISSES_PER_WINDOW = 20
MANAGE_WINDOW_SECONDS = 3600
# The control panel's daily code budget per channel (Signal and Threema send codes; Threema
# charges per message). 0 means no budget.
BUDGET_CHANNELS = ("signal", "threema")
DEFAULT_CODE_BUDGET = 500

_COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
"""

# KEYS: the day's budget counter; ARGV: budget, ttl. Takes one code from the budget unless it
# is spent -> {1, count} taken, {0, count} spent. Check and take are one step, so two Zope
# instances cannot both take the last code.
_BUDGET_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then return {0, count} end
count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {1, count}
"""


class RateLimited(MessageError):
    def __init__(self, retry_after, message):
        super().__init__(message)
        self.retry_after = int(retry_after)


def client_ip(request):
    """The client's address; behind a proxy Zope reads X-Forwarded-For when the proxy is trusted
    (``trusted-proxy`` in zope.conf), so a client cannot pick its own address."""
    return request.getClientAddr() or request.get("REMOTE_ADDR", "") or "unknown"


def client_key(ip):
    """What a limit per client counts by: the address, or for IPv6 its /64 network (one
    household or phone gets a whole /64 and could otherwise pick a fresh address per try)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def limit_key(kind, value):
    # Keys name no IP address or phone number in clear (they are personal data).
    return f"messenger:limit:{kind}:{pseudonym('limit-' + kind, value)}"


def _count(key, window):
    try:
        count, ttl = get_redis().eval(_COUNT_SCRIPT, 1, key, window)
    except redis.RedisError as error:
        log.warning(
            "Rate limit %s not checked, Redis is unreachable: %s",
            key.split(":")[2],
            error,
        )
        return 0, 0
    return int(count), int(ttl)


def limit_signups(ip):
    count, ttl = _count(limit_key("signup", client_key(ip)), 60)
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
    count, ttl = _count(limit_key("code", address), 24 * 3600)
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


# -- manage-link look-ups ----------------------------------------------------------------------


def _manage_key(ip):
    return limit_key("manage", client_key(ip))


def check_manage_lookups(ip):
    """Refuse every manage-token look-up of a client that tried too many unknown tokens.

    Only misses count (``count_manage_miss``): the owner who opens their own link as often
    as they like is never limited. Once over the limit a client gets no answer at all, not
    even for a right token, so the refusal tells a guesser nothing.
    """
    try:
        with get_redis().pipeline() as pipe:
            count, ttl = pipe.get(_manage_key(ip)).ttl(_manage_key(ip)).execute()
    except redis.RedisError as error:
        log.warning("Rate limit manage not checked, Redis is unreachable: %s", error)
        return
    if int(count or 0) >= MANAGE_MISSES_PER_WINDOW:
        ttl = int(ttl) if ttl and int(ttl) > 0 else MANAGE_WINDOW_SECONDS
        raise RateLimited(
            ttl,
            _(
                "error_rate_manage",
                default="Too many unknown links were opened from your connection. Please try "
                "again in ${minutes} minutes, with the link from your welcome message.",
                mapping={"minutes": max(1, -(-ttl // 60))},
            ),
        )


def count_manage_miss(ip):
    _count(_manage_key(ip), MANAGE_WINDOW_SECONDS)


# -- the daily code budget per channel ---------------------------------------------------------


def code_budget(channel):
    """The channel's daily code budget from the control panel (0: none)."""
    value = api.portal.get_registry_record(
        f"collective.messenger.{channel}_codes_per_day", default=DEFAULT_CODE_BUDGET
    )
    return max(0, int(value or 0))


def _today_and_midnight(now=None):
    """The site's calendar day (its time zone) and the seconds until it ends."""
    zone = pytz.timezone(portal_timezone())
    local = (now or datetime.now(pytz.utc)).astimezone(zone)
    tomorrow = zone.localize(
        datetime.combine(local.date() + timedelta(days=1), datetime.min.time())
    )
    return local.date().isoformat(), max(1, int((tomorrow - local).total_seconds()))


def budget_key(channel, day):
    return f"messenger:budget:codes:{channel}:{day}"


def codes_sent_today(channel):
    """How many codes ``channel`` sent today (None without Redis), for the dashboard."""
    day, _seconds = _today_and_midnight()
    try:
        return int(get_redis().get(budget_key(channel, day)) or 0)
    except redis.RedisError:
        return None


def take_code_budget(channel):
    """Take one code from ``channel``'s budget of today, or raise ``RateLimited``."""
    budget = code_budget(channel)
    if channel not in BUDGET_CHANNELS or not budget:
        return
    day, until_midnight = _today_and_midnight()
    try:
        taken, count = get_redis().eval(
            _BUDGET_SCRIPT, 1, budget_key(channel, day), budget, until_midnight + 3600
        )
    except redis.RedisError as error:
        log.warning(
            "Code budget of %s not checked, Redis is unreachable: %s", channel, error
        )
        return
    if int(taken):
        return
    if _first_refusal_today(channel, day, until_midnight):
        log.warning(
            "The daily code budget of %s (%d) is spent; code signups are refused until midnight. "
            "Raise it in the messenger control panel if this is expected.",
            channel,
            budget,
        )
    raise RateLimited(
        until_midnight,
        _(
            "error_code_budget_spent",
            default="We cannot send more confirmation codes by ${channel} today. Please try "
            "again tomorrow or choose another messenger.",
            mapping={"channel": CHANNEL_NAMES.get(channel, channel)},
        ),
    )


CHANNEL_NAMES = {"signal": "Signal", "threema": "Threema"}


def _first_refusal_today(channel, day, ttl):
    """True once a day per channel: the operator's log gets one line, not one per citizen."""
    try:
        return bool(
            get_redis().set(
                budget_key(channel, day) + ":warned", 1, nx=True, ex=ttl + 3600
            )
        )
    except redis.RedisError:
        return True
