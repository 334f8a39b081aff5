"""The housekeeping clock inside Zope: unconfirmed signups expire and leavers are erased
without any cron; one instance sweeps per period; Redis down changes neither."""

import logging
import os
from datetime import timedelta

import pytest
import transaction
from conftest import wait_until
from plone import api
from zope.event import notify
from zope.processlifetime import DatabaseOpenedWithRoot

from collective.messenger.housekeeping import clock
from collective.messenger.subscribers import Consent
from collective.messenger.subscribers import get_store
from collective.messenger.subscribers.clock import utcnow
from messenger_worker.connection import REDIS_URL_VARIABLE

CONSENT = Consent("v1", "page")
SITE_PATH = "/plone"


@pytest.fixture
def people(site):
    """An expired signup, a fresh one, someone who left 31 days ago, one 5 days ago, an active one."""
    store = get_store(site)
    now = utcnow()
    fresh = store.add_pending(
        "telegram", ["warnungen"], "de", CONSENT, now=now - timedelta(hours=1)
    )
    long_gone = store.activate(
        store.add_pending(
            "signal", ["warnungen"], "de", CONSENT, address="+4915112345671"
        )
    )
    store.unsubscribe(long_gone, now=now - timedelta(days=31))
    recently_gone = store.activate(
        store.add_pending("telegram", ["warnungen"], "de", CONSENT), address="502"
    )
    store.unsubscribe(recently_gone, now=now - timedelta(days=5))
    active = store.activate(
        store.add_pending("telegram", ["warnungen"], "de", CONSENT), address="503"
    )
    # Last: a signup at "now" may expire an expired one that shares its token's shard.
    expired = store.add_pending(
        "telegram", ["warnungen"], "de", CONSENT, now=now - timedelta(hours=25)
    )
    transaction.commit()
    return {
        "expired": expired.id,
        "fresh": fresh.id,
        "long_gone": long_gone.id,
        "recently_gone": recently_gone.id,
        "active": active.id,
    }


def present(site, people):
    transaction.begin()  # see what the clock's own connection committed
    store = get_store(site)
    return {name for name, sid in people.items() if store.get(sid) is not None}


def test_one_round_expires_signups_and_erases_leavers(
    site, functional, people, plone_redis
):
    counts_before = get_store(site).counts()["states"]
    results = clock.tick(functional["zodbDB"])
    assert results[SITE_PATH]["expired"] == 1
    assert results[SITE_PATH]["erased"] == 1
    assert results[SITE_PATH]["pending"] == 1
    assert present(site, people) == {"fresh", "recently_gone", "active"}
    store = get_store(site)
    assert store.by_address("signal", "+4915112345671") is None
    # Only counts remain: the erased leaver is still counted as unsubscribed.
    states = store.counts()["states"]
    assert states["unsubscribed"] == counts_before["unsubscribed"] == 2
    assert states["pending"] == counts_before["pending"] - 1
    assert store.check() == []


def test_days_kept_is_a_setting(site, functional, people, plone_redis):
    assert api.portal.get_registry_record("collective.messenger.erase_after_days") == 30
    api.portal.set_registry_record("collective.messenger.erase_after_days", 4)
    transaction.commit()
    clock.tick(functional["zodbDB"])
    assert present(site, people) == {"fresh", "active"}


def test_one_instance_sweeps_per_period(site, functional, people, plone_redis):
    first = clock.tick(functional["zodbDB"], period=300, owner="zope-1")
    second = clock.tick(functional["zodbDB"], period=300, owner="zope-2")
    assert SITE_PATH in first and second == {}
    assert plone_redis.get("messenger:housekeeping:" + SITE_PATH) == b"zope-1"
    assert 0 < plone_redis.ttl("messenger:housekeeping:" + SITE_PATH) <= 270


def test_redis_down_still_sweeps_and_says_so_once(site, functional, people, caplog):
    real_url = os.environ[REDIS_URL_VARIABLE]
    os.environ[REDIS_URL_VARIABLE] = "redis://127.0.0.1:9/0"  # nothing listens there
    health = clock.RoundLog()
    try:
        with caplog.at_level(logging.INFO, logger="collective.messenger"):
            first = clock.tick(functional["zodbDB"], health=health)
            clock.tick(functional["zodbDB"], health=health)
            clock.tick(functional["zodbDB"], health=health)
    finally:
        os.environ[REDIS_URL_VARIABLE] = real_url
    assert first[SITE_PATH]["expired"] == 1 and first[SITE_PATH]["erased"] == 1
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings if "housekeeping" in r.name] == [
        warnings[0].getMessage()
    ]
    assert "Redis is unreachable" in warnings[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)
    assert present(site, people) == {"fresh", "recently_gone", "active"}


def test_the_clock_thread_runs_the_sweep(site, functional, people, plone_redis):
    ticker = clock.HousekeepingClock(
        functional["zodbDB"], interval=0.2, first_round_after=0.05
    )
    ticker.start()
    try:
        wait_until(
            lambda: "expired" not in present(site, people),
            timeout=30,
            message="the clock to expire the signup",
        )
    finally:
        ticker.stop()
    assert not ticker.is_alive()
    assert present(site, people) == {"fresh", "recently_gone", "active"}


def test_started_when_zope_opens_its_database(functional, monkeypatch):
    monkeypatch.setenv(clock.INTERVAL_VARIABLE, "3600")
    db = functional["zodbDB"]
    notify(DatabaseOpenedWithRoot(db))
    started = clock._clocks.get(id(db))
    try:
        assert started is not None and started.is_alive() and started.interval == 3600
        notify(DatabaseOpenedWithRoot(db))  # a second event: still one clock
        assert clock._clocks[id(db)] is started
    finally:
        started.stop()
        clock._clocks.pop(id(db), None)


def test_switched_off_with_zero(functional, monkeypatch):
    monkeypatch.setenv(clock.INTERVAL_VARIABLE, "0")
    assert clock.start(DatabaseOpenedWithRoot(functional["zodbDB"])) is None


def test_a_broken_round_is_logged_with_its_traceback_once(caplog):
    health = clock.RoundLog()

    class Broken:
        def open(self, **kw):
            raise RuntimeError("database closed")

    ticker = clock.HousekeepingClock(Broken(), interval=0.05, first_round_after=0.01)
    ticker.health = health
    with caplog.at_level(logging.ERROR, logger="collective.messenger.housekeeping"):
        ticker.start()
        wait_until(lambda: ticker.rounds >= 3, timeout=10, message="three rounds")
        ticker.stop()
    errors = [
        r for r in caplog.records if r.name == "collective.messenger.housekeeping"
    ]
    assert len(errors) >= 3
    assert [bool(r.exc_info) for r in errors[:3]] == [True, False, False]
    assert health.down is False


def test_the_round_hands_over_posts_that_waited_for_redis(
    site, functional, plone_redis
):
    """No cron for @messenger-dispatch either: the clock drains the outbox once Redis is back."""
    from status_support import news
    from status_support import prepare
    from status_support import publish
    from status_support import subscribe

    from collective.messenger.publishing.outbox import get_outbox
    from messenger_worker.ledger import post_key

    prepare(site)
    subscribe([1001])
    item = news(site)
    real_url = os.environ[REDIS_URL_VARIABLE]
    os.environ[REDIS_URL_VARIABLE] = "redis://127.0.0.1:9/0"
    try:
        publish(item)
    finally:
        os.environ[REDIS_URL_VARIABLE] = real_url
    [entry] = get_outbox().entries_for(item.UID())
    assert not plone_redis.exists(post_key(entry.post_id))
    results = clock.tick(functional["zodbDB"])
    assert results[SITE_PATH]["outbox"]["dispatched"] == 1
    assert plone_redis.exists(post_key(entry.post_id))
    transaction.begin()
    assert entry.state == "queued" and entry.synced


def test_the_privacy_notice_at_signup_says_what_really_happens(site):
    """Today's text promised deletion on STOP; addresses are erased N days after leaving."""
    import json
    import re

    from conftest import browser_for

    browser = browser_for(site)
    browser.addHeader("Accept", "application/json")
    browser.open(site.absolute_url() + "/@messenger-topics")
    text = json.loads(browser.contents)["privacy"]["text"]
    days = api.portal.get_registry_record("collective.messenger.erase_after_days")
    assert "dann löschen wir Ihre Daten" not in text
    assert re.search(
        rf"Nach der Abmeldung löschen wir .* spätestens nach {days} Tagen", text
    )
    assert "nicht bestätigte Anmeldung löschen wir nach 24 Stunden" in text


def test_the_gdpr_export_says_when_a_leaver_is_erased(site, people):
    from collective.messenger.browser.admin_export import subscriber_data

    store = get_store(site)
    left = store.get(people["recently_gone"])
    document = subscriber_data(left, {}, site.REQUEST)
    record = document["subscriber"]
    erased_on = left.unsubscribed + timedelta(days=30)
    assert record["left"] == left.unsubscribed.isoformat()
    assert record["erased_on"] == erased_on.isoformat()
    assert (
        f"The record is erased on {erased_on.date().isoformat()}, 30 days after leaving"
        in document["notes"][-1]
    )
    assert (
        "erased_on"
        not in subscriber_data(store.get(people["active"]), {}, site.REQUEST)[
            "subscriber"
        ]
    )


def test_a_site_not_upgraded_yet_keeps_thirty_days(
    site, functional, people, plone_redis
):
    """Before the upgrade step registers the setting, the default applies."""
    registry = site.portal_registry
    del registry.records["collective.messenger.erase_after_days"]
    transaction.commit()
    results = clock.tick(functional["zodbDB"])
    assert results[SITE_PATH]["erased"] == 1
    assert present(site, people) == {"fresh", "recently_gone", "active"}
