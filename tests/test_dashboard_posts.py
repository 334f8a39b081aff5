"""``@@messenger-dashboard``: recent posts with their figures, live workers, paused channels."""

import lxml.html
import pytest
from conftest import browser_for
from rq import Queue
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from status_support import news
from status_support import prepare
from status_support import publish
from status_support import run_worker
from status_support import subscribe
from status_support import text_of

from messenger_worker import keys
from messenger_worker.pauses import ChannelPauses


@pytest.fixture
def portal(site, sandbox):
    return prepare(site, sandbox)


def open_dashboard(site, user="siteadmin"):
    browser = browser_for(site, user)
    browser.handleErrors = True
    browser.open(site.absolute_url() + "/@@messenger-dashboard")
    return browser


def post_rows(browser):
    """{title: text of the post's rows} in the recent posts table, newest first."""
    page = lxml.html.fromstring(browser.contents)
    rows = {}
    for body in page.xpath('//table[@id="messenger-posts-table"]/tbody'):
        title = text_of(body.xpath(".//th/a")[0])
        rows[title] = [
            [text_of(cell) for cell in tr.xpath("./th|./td")]
            for tr in body.xpath("./tr")
        ]
    return rows


def test_recent_posts_with_their_figures(portal, plone_redis, sandbox):
    subscribe([1001, 1002])
    subscribe(["+4915112345671"], channel="signal")
    first = news(portal, title="Vollsperrung Hauptstraße")
    publish(first)
    run_worker(plone_redis)
    second = news(portal, title="Markt fällt aus")
    publish(second)

    browser = open_dashboard(portal)
    rows = post_rows(browser)
    assert list(rows) == ["Markt fällt aus", "Vollsperrung Hauptstraße"]  # newest first
    sent = rows["Vollsperrung Hauptstraße"]
    # item, kind, created, state, channel, queued, sent, retrying, gone, failed, progress
    assert sent[0][1] == "First post" and sent[0][3] == "Sent"
    assert sent[0][4:10] == ["Signal", "1", "1", "0", "0", "0"]
    assert sent[0][10] == "100 %"
    assert sent[1] == ["Telegram", "2", "2", "0", "0", "0"]
    sending = rows["Markt fällt aus"]
    assert sending[0][3] == "Sending" and sending[0][10] == "0 %"
    links = lxml.html.fromstring(browser.contents).xpath(
        '//table[@id="messenger-posts-table"]//th/a/@href'
    )
    assert links == [second.absolute_url(), first.absolute_url()]


def test_no_posts_yet(portal):
    assert "Nothing has been posted yet." in open_dashboard(portal).contents


def test_live_workers_and_queue_depth(portal, plone_redis):
    subscribe([1001])
    publish(news(portal))
    worker = SimpleWorker(
        [
            Queue(name, connection=plone_redis, serializer=JSONSerializer)
            for name in keys.QUEUES
        ],
        connection=plone_redis,
        name="rathaus-worker-1",
    )
    worker.register_birth()
    try:
        browser = open_dashboard(portal)
    finally:
        worker.register_death()
    workers = text_of(
        lxml.html.fromstring(browser.contents).xpath(
            '//div[@id="messenger-dashboard-workers"]'
        )[0]
    )
    assert "Live workers: 1" in workers and "rathaus-worker-1" in workers
    row = lxml.html.fromstring(browser.contents).xpath('//tr[@data-queue="messenger"]')[
        0
    ]
    assert [text_of(cell) for cell in row.xpath("./td")] == [
        "messenger",
        "1",
        "0",
        "0",
        "0",
    ]  # one batch waits

    browser.reload()
    assert "no worker running" in browser.contents


def test_paused_channel_with_reason(portal, plone_redis):
    ChannelPauses(plone_redis).pause(
        "telegram", "Telegram rejected the bot token (401)."
    )
    browser = open_dashboard(portal)
    paused = lxml.html.fromstring(browser.contents).xpath(
        '//section[@id="messenger-dashboard-paused"]'
    )[0]
    assert "Telegram: Telegram rejected the bot token (401)." in text_of(paused)
    assert "No channel is paused." not in text_of(paused)


@pytest.mark.parametrize("user", [None, "member", "editor", "reviewer"])
def test_not_for_editors(portal, user):
    subscribe([1001])
    publish(news(portal))
    browser = open_dashboard(portal, user)
    assert "Recent posts" not in browser.contents
