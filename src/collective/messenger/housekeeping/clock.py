"""The housekeeping clock: a daemon thread in every Zope instance, no external cron.

Started once the database is opened (``IDatabaseOpenedWithRoot``). Every few minutes
(``MESSENGER_HOUSEKEEPING_SECONDS``, default 300; 0 switches the clock off) it opens its own
ZODB connection, finds the Plone sites with this add-on, and for each one takes a Redis
lock for the period (``SET NX EX``), so that with several instances one of them sweeps,
then runs ``sweep`` in transactions of its own, retried on ConflictError.

Without Redis the sweep still runs (expiry and erasure must not wait for Redis; instances
that sweep at once only repeat work), and the outage is logged once, not every round. No
exception leaves the thread: a broken round is logged and the next one comes.
"""

import logging
import os
import socket
import threading

import redis
import transaction
from AccessControl.SecurityManagement import getSecurityManager
from AccessControl.SecurityManagement import newSecurityManager
from AccessControl.SecurityManagement import setSecurityManager
from AccessControl.SpecialUsers import system
from plone.base.interfaces import IPloneSiteRoot
from Testing.makerequest import makerequest
from zope.component.hooks import getSite
from zope.component.hooks import setSite
from zope.globalrequest import getRequest
from zope.globalrequest import setRequest

from collective.messenger.housekeeping import sweep
from collective.messenger.redis_client import get_redis

log = logging.getLogger("collective.messenger.housekeeping")

INTERVAL_VARIABLE = "MESSENGER_HOUSEKEEPING_SECONDS"
DEFAULT_INTERVAL = 300.0
FIRST_ROUND_AFTER = 60.0  # let the instance finish starting first
LOCK_PREFIX = "messenger:housekeeping:"
INSTALLED_RECORD = "collective.messenger.topics"  # removed by the uninstall profile
ATTEMPTS = 3
SEARCH_DEPTH = 3  # sites inside folders of the Zope root, as some hosts arrange them


def interval_seconds():
    try:
        return max(0.0, float(os.environ.get(INTERVAL_VARIABLE, DEFAULT_INTERVAL)))
    except ValueError:
        log.warning(
            "%s is not a number of seconds; using %s.",
            INTERVAL_VARIABLE,
            DEFAULT_INTERVAL,
        )
        return DEFAULT_INTERVAL


def instance_id():
    return f"{socket.gethostname()}:{os.getpid()}"


class RoundLog:
    """What the clock says, said once: a Redis outage when it begins and when it ends (not
    every round), and a failure that repeats every round with its traceback once, then as
    one line."""

    def __init__(self):
        self.down = False
        self.last_errors = {}

    def round_failed(self, where, error):
        text = f"{type(error).__name__}: {error}"
        log.error(
            "Housekeeping on %s failed: %s",
            where,
            text,
            exc_info=self.last_errors.get(where) != text,
        )
        self.last_errors[where] = text

    def round_ok(self, where):
        self.last_errors.pop(where, None)

    def failed(self, error):
        if not self.down:
            log.warning(
                "Housekeeping runs without its Redis lock: Redis is unreachable (%s). "
                "Expiry and erasure go on; waiting posts wait.",
                error,
            )
        self.down = True

    def ok(self):
        if self.down:
            log.info("Housekeeping: Redis is reachable again.")
        self.down = False


def take_turn(site_path, period, health, owner=None):
    """True if this instance sweeps ``site_path`` in this period (or Redis cannot tell)."""
    try:
        taken = get_redis().set(
            LOCK_PREFIX + site_path,
            owner or instance_id(),
            nx=True,
            ex=max(1, int(period * 0.9)),
        )
    except redis.RedisError as error:
        health.failed(error)
        return True
    health.ok()
    return bool(taken)


def find_sites(container, depth=SEARCH_DEPTH):
    """Paths of the Plone sites with this add-on installed, under ``container``."""
    for item in container.objectValues():
        if IPloneSiteRoot.providedBy(item):
            registry = getattr(item, "portal_registry", None)
            if registry is not None and registry.get(INSTALLED_RECORD) is not None:
                yield "/".join(item.getPhysicalPath())
        elif depth > 1 and getattr(item, "meta_type", "") == "Folder":
            yield from find_sites(item, depth - 1)


def tick(db, period=None, health=None, owner=None, now=None):
    """One round on every site of ``db``: what the clock's thread calls.

    Returns ``{site path: {"expired", "erased", "pending", "outbox"}}`` for the sites this
    instance swept (a site another instance swept this period is absent).
    """
    period = interval_seconds() if period is None else period
    health = health or RoundLog()
    manager = transaction.TransactionManager()
    connection = db.open(transaction_manager=manager)
    results = {}
    # The thread's own state is restored afterwards (tests call this in their own thread).
    previous = getSite(), getRequest(), getSecurityManager()
    try:
        app = makerequest(connection.root()["Application"])
        setRequest(app.REQUEST)
        # Like a cron call with an admin's login: the sweep is the site's own business.
        newSecurityManager(None, system)
        paths = list(find_sites(app))
        manager.abort()
        for path in paths:
            if not take_turn(path, period or DEFAULT_INTERVAL, health, owner):
                continue
            try:
                results[path] = sweep_site(app, path, manager, now)
            except Exception as error:  # one broken site does not stop the others
                manager.abort()
                health.round_failed(path, error)
            else:
                health.round_ok(path)
    finally:
        manager.abort()
        setSite(previous[0])
        setRequest(previous[1])
        setSecurityManager(previous[2])
        connection.close()
    return results


def sweep_site(app, path, manager, now=None):
    """The sweep of one site, step by step, each in its own transaction."""
    result = _in_transaction(
        manager, app, path, lambda site: sweep.sweep_subscribers(site, now=now)
    )
    result["outbox"] = _in_transaction(manager, app, path, sweep.sweep_outbox)
    if (
        result["expired"]
        or result["erased"]
        or (result["outbox"] or {}).get("dispatched")
    ):
        log.info("Housekeeping on %s: %s", path, result)
    return result


def _in_transaction(manager, app, path, step):
    for attempt in manager.attempts(ATTEMPTS):
        with attempt:
            site = app.unrestrictedTraverse(path)
            setSite(site)
            result = step(site)
    return result


class HousekeepingClock(threading.Thread):
    """Calls ``tick`` every ``interval`` seconds until stopped; never raises."""

    def __init__(self, db, interval, first_round_after=None):
        super().__init__(name="collective.messenger housekeeping", daemon=True)
        self.db = db
        self.interval = interval
        self.first_round_after = (
            min(interval, FIRST_ROUND_AFTER)
            if first_round_after is None
            else first_round_after
        )
        self.health = RoundLog()
        self.rounds = 0
        self._stopped = threading.Event()

    def run(self):
        wait = self.first_round_after
        while not self._stopped.wait(wait):
            wait = self.interval
            try:
                tick(self.db, self.interval, self.health)
            except Exception as error:  # e.g. the database is closing
                self.health.round_failed("the database", error)
            else:
                self.health.round_ok("the database")
            self.rounds += 1

    def stop(self, timeout=10):
        self._stopped.set()
        self.join(timeout)


_clocks = {}
_clocks_lock = threading.Lock()


def start(event):
    """``IDatabaseOpenedWithRoot`` subscriber: one clock per database and process."""
    interval = interval_seconds()
    if not interval:
        log.info(
            "Housekeeping clock off (%s=0): run POST @messenger-maintenance from cron.",
            INTERVAL_VARIABLE,
        )
        return None
    try:
        with _clocks_lock:
            clock = _clocks.get(id(event.database))
            if clock is None or not clock.is_alive():
                clock = _clocks[id(event.database)] = HousekeepingClock(
                    event.database, interval
                )
                clock.start()
                log.info("Housekeeping clock started: every %s s.", interval)
    except Exception:  # Zope must start even so; cron can stand in
        log.exception(
            "Housekeeping clock not started: run POST @messenger-maintenance from cron."
        )
        return None
    return clock
