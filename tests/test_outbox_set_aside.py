"""Point 10: an outbox entry the drain cannot hand over never blocks publishing; entries
that waited more than three days, or cannot be read, are listed on the dashboard with
"Send anyway" and "Dismiss" instead of being dropped silently."""

import logging
import os
from datetime import timedelta

import lxml.html
import pytest
import transaction
from conftest import browser_for
from status_support import news
from status_support import prepare
from status_support import publish
from status_support import subscribe
from status_support import text_of

from collective.messenger.publishing import dispatch
from collective.messenger.publishing.outbox import get_outbox
from messenger_worker.connection import REDIS_URL_VARIABLE
from messenger_worker.ledger import post_key
from messenger_worker.ledger import read_stats


@pytest.fixture
def portal(site, sandbox):
    return prepare(site, sandbox)


def published_while_redis_down(item):
    """Publish ``item`` with Redis unreachable: its post waits in the outbox."""
    real_url = os.environ[REDIS_URL_VARIABLE]
    os.environ[REDIS_URL_VARIABLE] = "redis://127.0.0.1:9/0"  # nothing listens there
    try:
        publish(item)
    finally:
        os.environ[REDIS_URL_VARIABLE] = real_url
    [entry] = get_outbox().entries_for(item.UID())
    assert entry.state == "waiting"
    return entry


def unreadable(entry):
    """As if written by another version of the add-on: the worker's contract refuses it."""
    entry.post["version"] = 0
    transaction.commit()
    return entry


def stale(entry, days=4):
    entry.due -= timedelta(days=days)
    entry.created -= timedelta(days=days)
    transaction.commit()
    return entry


def dashboard(site, user="siteadmin"):
    browser = browser_for(site, user)
    browser.handleErrors = True
    browser.open(site.absolute_url() + "/@@messenger-dashboard")
    return browser


def set_aside_rows(browser):
    page = lxml.html.fromstring(browser.contents)
    return {
        row.get("data-post-id"): text_of(row)
        for row in page.xpath('//section[@id="messenger-set-aside"]//tbody/tr')
    }


def click(browser, post_id, button):
    forms = lxml.html.fromstring(browser.contents).xpath("//form")
    for index, form in enumerate(forms):
        if form.xpath(f'.//input[@name="post_id"][@value="{post_id}"]'):
            browser.getForm(index=index).getControl(
                name=f"form.buttons.{button}"
            ).click()
            return
    raise AssertionError(f"no form for {post_id}")


def test_an_unreadable_entry_does_not_block_publishing(portal, plone_redis, caplog):
    subscribe([1001, 1002])
    broken = unreadable(published_while_redis_down(news(portal, title="Alte Meldung")))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="collective.messenger"):
        publish(
            news(portal, title="Markt fällt aus")
        )  # today: PayloadError, nothing published
    transaction.begin()
    [entry] = [e for e in get_outbox().recent() if e.title == "Markt fällt aus"]
    assert plone_redis.exists(post_key(entry.post_id))
    assert broken.state == "skipped" and broken.reason == "unreadable"
    assert "PayloadError" in broken.error and "version 0" in broken.error
    assert get_outbox().needs_attention() == [broken]
    assert not plone_redis.exists(post_key(broken.post_id))
    # One line an operator can act on, no traceback; the next drain does not repeat it.
    lines = [r for r in caplog.records if broken.post_id in r.getMessage()]
    assert (
        len(lines) == 1
        and not lines[0].exc_info
        and "dashboard" in lines[0].getMessage()
    )
    assert dispatch.drain()["skipped"] == 0


def test_one_entry_that_breaks_in_any_way_leaves_the_others_to_go_out(
    portal, plone_redis
):
    subscribe([1001])
    first = published_while_redis_down(news(portal, title="Erste"))
    second = published_while_redis_down(news(portal, title="Zweite"))
    first.post = None  # not even a mapping any more
    transaction.commit()
    result = dispatch.drain()
    transaction.commit()
    assert (
        result["dispatched"] == 1 and result["skipped"] == 1 and result["waiting"] == 0
    )
    assert second.state == "queued" and plone_redis.exists(post_key(second.post_id))
    assert first.reason == "unreadable" and get_outbox().needs_attention() == [first]
    # Listed, not a broken page; "Send anyway" says why not.
    browser = dashboard(portal)
    assert browser.headers["status"].startswith("200")
    assert (
        "Its stored message cannot be read: PayloadError"
        in set_aside_rows(browser)[first.post_id]
    )
    click(browser, first.post_id, "send_set_aside")
    assert browser.headers["status"].startswith("200")
    assert "still cannot be read, so nothing was sent" in browser.contents


def test_a_stale_entry_is_listed_and_sent_anyway(portal, plone_redis):
    subscribe([1001, 1002])
    entry = stale(
        published_while_redis_down(news(portal, title="Vollsperrung Hauptstraße"))
    )
    assert dispatch.drain()["skipped"] == 1
    transaction.commit()
    assert entry.state == "skipped" and entry.reason == "stale"
    assert not plone_redis.exists(post_key(entry.post_id))

    browser = dashboard(portal)
    rows = set_aside_rows(browser)
    assert list(rows) == [entry.post_id]
    assert "Vollsperrung Hauptstraße" in rows[entry.post_id]
    assert "waited more than three days for the delivery queue" in rows[entry.post_id]
    subscribe([1003])  # sent to today's subscribers
    click(browser, entry.post_id, "send_set_aside")
    assert browser.headers["status"].startswith("200")
    assert (
        "“Vollsperrung Hauptstraße” was handed to the delivery queue; recipients: 3."
        in browser.contents
    )
    assert set_aside_rows(browser) == {}
    transaction.begin()
    assert entry.state == "queued" and entry.reason == ""
    assert read_stats(plone_redis, entry.post_id)["telegram"]["queued"] == 3
    assert get_outbox().needs_attention() == []


def test_dismissed_entries_stay_unsent(portal, plone_redis):
    subscribe([1001])
    entry = stale(published_while_redis_down(news(portal)))
    dispatch.drain()
    transaction.commit()
    browser = dashboard(portal)
    click(browser, entry.post_id, "dismiss_set_aside")
    assert "stays unsent and is no longer listed" in browser.contents
    assert set_aside_rows(browser) == {}
    transaction.begin()
    assert entry.state == "skipped" and get_outbox().needs_attention() == []
    assert dispatch.drain()["dispatched"] == 0
    assert plone_redis.keys("messenger:post:*") == []


def test_sending_an_unreadable_entry_anyway_says_why_not(portal, plone_redis):
    subscribe([1001])
    entry = unreadable(published_while_redis_down(news(portal, title="Alte Meldung")))
    dispatch.drain()
    transaction.commit()
    browser = dashboard(portal)
    assert (
        "Its stored message cannot be read: PayloadError"
        in set_aside_rows(browser)[entry.post_id]
    )
    # Among the recent posts too, as editors see it on the item: not sent, and why.
    recent = lxml.html.fromstring(browser.contents).xpath(
        f'//tr[@data-post-id="{entry.post_id}"]'
    )[0]
    assert "Not sent" in text_of(recent)
    assert (
        "Its stored message cannot be read; the messenger dashboard says why."
        in text_of(recent)
    )
    click(browser, entry.post_id, "send_set_aside")
    assert (
        "“Alte Meldung” still cannot be read, so nothing was sent" in browser.contents
    )
    assert list(set_aside_rows(browser)) == [entry.post_id]
    assert plone_redis.keys("messenger:post:*") == []


def test_send_anyway_needs_the_authenticator_and_an_admin(portal, plone_redis):
    subscribe([1001])
    entry = stale(published_while_redis_down(news(portal)))
    dispatch.drain()
    transaction.commit()
    url = portal.absolute_url() + "/@@messenger-dashboard"
    admin = dashboard(portal)
    token = lxml.html.fromstring(admin.contents).xpath(
        '//input[@name="_authenticator"]/@value'
    )[0]
    admin.post(url, f"post_id={entry.post_id}&form.buttons.send_set_aside=1")
    assert admin.headers["status"].startswith("403")
    editor = dashboard(portal, "editor")
    assert entry.post_id not in editor.contents
    editor.post(
        url,
        f"_authenticator={token}&post_id={entry.post_id}&form.buttons.send_set_aside=1",
    )
    transaction.begin()
    assert get_outbox().needs_attention() == [entry]
    assert plone_redis.keys("messenger:post:*") == []


def test_an_item_retracted_meanwhile_is_not_sent_anyway(portal, plone_redis):
    from plone import api

    subscribe([1001])
    item = news(portal, title="Zurückgezogen")
    entry = stale(published_while_redis_down(item))
    dispatch.drain()
    api.content.transition(obj=item, transition="retract")
    transaction.commit()
    browser = dashboard(portal)
    click(browser, entry.post_id, "send_set_aside")
    assert (
        "“Zurückgezogen” is no longer published, so it was not sent. Dismiss it."
        in browser.contents
    )
    assert list(set_aside_rows(browser)) == [entry.post_id]
    assert plone_redis.keys("messenger:post:*") == []
