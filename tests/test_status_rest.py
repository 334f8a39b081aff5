"""``GET <item>/@messenger-status``: the figures the box polls, as JSON, for editors only."""

import json
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
import transaction
from conftest import browser_for
from DateTime import DateTime
from plone import api
from status_support import news
from status_support import prepare
from status_support import publish
from status_support import run_worker
from status_support import subscribe

from messenger_worker.testing import free_port


@pytest.fixture
def portal(site, sandbox):
    return prepare(site, sandbox)


def get_status(item, user="editor", query=""):
    browser = browser_for(item, user)
    browser.handleErrors = True
    browser.addHeader("Accept", "application/json")
    browser.open(f"{item.absolute_url()}/@messenger-status{query}")
    status = int(browser.headers["status"].split()[0])
    return status, json.loads(browser.contents), browser.headers


def test_before_publishing_upcoming_only(portal):
    subscribe([1001, 1002])
    subscribe(["+4915112345671"], channel="signal")
    item = news(portal)
    status, body, headers = get_status(item)
    assert status == 200
    assert "no-store" in headers["Cache-Control"]
    assert body["posts"] == []
    assert body["public"] is False and body["active"] is False
    upcoming = body["upcoming"]
    assert upcoming["send_on_publish"] is True
    assert upcoming["topics"] == [
        {"id": "baustellen-verkehr", "title": "Baustellen & Verkehr"}
    ]
    assert {c: r["count"] for c, r in upcoming["recipients"].items()} == {
        "telegram": 2,
        "signal": 1,
    }
    assert upcoming["recipients_total"] == 3
    assert "preview" not in body


def test_figures_while_sending_and_when_done(portal, plone_redis, sandbox):
    sandbox.configure(telegram={"blocked": ["1002"]})
    subscribe([1001, 1002])
    subscribe(["+4915112345671"], channel="signal")
    item = news(portal)
    publish(item)

    _status, body, _headers = get_status(item)
    [post] = body["posts"]
    assert post["kind"] == "initial" and post["state"] == "queued"
    assert post["recipients"] == 3
    assert post["channels"]["telegram"] == {
        "queued": 2,
        "sent": 0,
        "retrying": 0,
        "gone": 0,
        "failed": 0,
        "first_sent": None,
        "last_sent": None,
    }
    assert post["done"] is False and post["progress"] == 0.0
    assert body["active"] is True and body["upcoming"] is None
    created = datetime.fromisoformat(post["created"])
    assert abs(created - datetime.now(timezone.utc)) < timedelta(minutes=1)

    run_worker(plone_redis)
    _status, body, _headers = get_status(item)
    [post] = body["posts"]
    telegram = post["channels"]["telegram"]
    assert (telegram["sent"], telegram["gone"]) == (1, 1)
    assert post["channels"]["signal"]["sent"] == 1
    first, last = (
        datetime.fromisoformat(telegram["first_sent"]),
        datetime.fromisoformat(telegram["last_sent"]),
    )
    assert first <= last and abs(last - datetime.now(timezone.utc)) < timedelta(
        minutes=1
    )
    assert post["done"] is True and post["progress"] == 1.0
    assert post["state_label"] == "Sent"
    assert body["active"] is False


def test_scheduled_post(portal):
    subscribe([1001])
    later = DateTime() + 1 / 24.0  # in an hour
    item = news(portal, effective_date=later)
    _status, body, _headers = get_status(item)
    assert abs(
        datetime.fromisoformat(body["upcoming"]["effective"]) - later.asdatetime()
    ) < timedelta(seconds=1)
    publish(item)
    _status, body, _headers = get_status(item)
    [post] = body["posts"]
    assert post["state"] == "scheduled" and post["state_label"] == "Scheduled"
    assert abs(datetime.fromisoformat(post["due"]) - later.asdatetime()) < timedelta(
        seconds=1
    )
    assert post["done"] is False and post["active"] is False
    assert body["active"] is False  # nothing to poll for an hour


def test_redis_down_still_answers(portal, monkeypatch):
    subscribe([1001])
    item = news(portal)
    publish(item)
    monkeypatch.setenv("MESSENGER_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    status, body, _headers = get_status(item)
    assert status == 200
    [post] = body["posts"]
    assert post["stats_available"] is False and post["done"] is False


def test_preview_on_request(portal):
    item = news(portal)
    _status, body, _headers = get_status(item, query="?preview=1")
    channels = {c["channel"]: c for c in body["preview"]["channels"]}
    assert set(channels) == {"telegram", "signal"}
    assert channels["telegram"]["markup"].startswith(
        "<b>Vollsperrung der Hauptstraße</b>"
    )
    assert "bot_token" not in json.dumps(body)


@pytest.mark.parametrize(
    "user, allowed",
    [
        (None, False),
        ("member", False),
        ("reviewer", True),
        ("editor", True),
        ("siteadmin", True),
    ],
)
def test_who_may_read_it(portal, user, allowed):
    subscribe([1001])
    item = news(portal)
    publish(item)
    status, body, _headers = get_status(item, user)
    if allowed:
        assert status == 200 and len(body["posts"]) == 1
    else:
        assert status == 401
        assert "posts" not in body


def test_not_on_items_without_the_behavior(portal):
    document = api.content.create(container=portal, type="Document", title="Impressum")
    transaction.commit()
    status, _body, _headers = get_status(document)
    assert status == 404
