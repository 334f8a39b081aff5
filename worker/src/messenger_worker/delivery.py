"""What post batches and replies share: tuning, back-off, the stop flag, HTTP sessions and
waiting out a short Redis outage."""

import logging
import os
import random
import threading
import time

import redis
import requests

log = logging.getLogger("messenger_worker.delivery")

DEFAULT_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 5
BACKOFF_MAX_SECONDS = 600
# A batch waits this long for Redis to come back before it gives up (and RQ retries it).
REDIS_OUTAGE_SECONDS = 60
# A paused channel's batches come back this often to see whether the pause is over.
PAUSE_RECHECK_SECONDS = 60

stop_requested = threading.Event()


def request_stop(signum=None, frame=None):
    """Signal handler in the work horse: finish the current recipient, requeue the rest."""
    stop_requested.set()


def backoff(attempt, base=BACKOFF_BASE_SECONDS, rand=random.random):
    """Seconds before attempt ``attempt`` (1, 2, ...): exponential, with jitter."""
    ceiling = min(BACKOFF_MAX_SECONDS, base * 2**attempt)
    return ceiling / 2 + rand() * ceiling / 2


def without_address(reason, address):
    """``reason`` with the recipient's address left out: reasons are kept with the post and
    shown to admins; platforms sometimes quote the number they refused."""
    if not reason or not address:
        return reason
    for form in dict.fromkeys((address, address.lstrip("+"))):
        if len(form) >= 3:
            reason = reason.replace(form, "…")
    return reason


def tuning(document):
    """(backoff base seconds, pause recheck seconds, attempts) from the settings document.

    Operators (and tests) may tune these there; Plone omits them, so the defaults apply.
    """
    return (
        float(document.get("backoff_base_seconds", BACKOFF_BASE_SECONDS)),
        float(document.get("pause_recheck_seconds", PAUSE_RECHECK_SECONDS)),
        int(document.get("attempts") or DEFAULT_ATTEMPTS),
    )


def session_for(api_url):
    """A keep-alive session that reads proxy and CA settings from the environment once.

    By default requests scans the whole environment for proxies on every request, which
    costs about a third of a millisecond here: a fifth of the time a message takes.
    """
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(api_url))
    session.verify = (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    )
    session.trust_env = False
    return session


def through_outage(operation, patience=REDIS_OUTAGE_SECONDS, reload_scripts=None):
    """Run a Redis ``operation``, waiting out a short outage (a restart, a failover)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return operation()
        except redis.exceptions.NoScriptError:
            # Redis restarted and forgot our scripts; the operation is safe to repeat.
            if reload_scripts is None:
                raise
            through_outage(reload_scripts, patience)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            if time.monotonic() > deadline:
                raise
            log.warning("Redis unreachable (%s); retrying.", error)
            time.sleep(0.5)
