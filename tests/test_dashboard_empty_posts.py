"""``@@messenger-dashboard`` with posts that have no channel rows: a post retracted before its
time (cancelled, nothing handed over) and a post whose topic nobody follows. Both used to
answer 500: the template took ``rows[0]`` before it checked that there were rows."""

import pytest
from DateTime import DateTime
from plone import api
from status_support import news
from status_support import prepare
from status_support import publish
from test_dashboard_posts import open_dashboard
from test_dashboard_posts import post_rows


@pytest.fixture
def portal(site, sandbox):
    return prepare(site, sandbox)


def test_post_without_recipients(portal):
    publish(
        news(portal, title="Freibad öffnet", topics=("freibad",))
    )  # nobody follows it

    browser = open_dashboard(portal)
    assert browser.headers["status"].startswith("200"), browser.contents[:500]
    (row,) = post_rows(browser)["Freibad öffnet"]
    # item, kind, created, state, "no recipients" across the six channel columns, progress
    assert row[0] == "Freibad öffnet" and row[1] == "First post"
    assert row[4] == "no recipients"
    assert "Traceback" not in browser.contents


def test_cancelled_post(portal):
    import transaction

    # Scheduled for tomorrow, then retracted before its time: the post is cancelled.
    item = news(portal, title="Markt am Samstag")
    item.setEffectiveDate(DateTime() + 1)
    item.reindexObject()
    transaction.commit()
    publish(item)
    api.content.transition(obj=item, transition="retract")
    transaction.commit()

    browser = open_dashboard(portal)
    assert browser.headers["status"].startswith("200"), browser.contents[:500]
    (row,) = post_rows(browser)["Markt am Samstag"]
    assert row[3].startswith("Cancelled"), row
    assert row[4] == "no recipients"


def test_cancelled_post_in_german(portal):
    import transaction

    api.portal.set_registry_record("plone.available_languages", ["en", "de"])
    api.portal.set_registry_record("plone.use_request_negotiation", True)
    item = news(portal, title="Markt am Sonntag", topics=("freibad",))
    item.setEffectiveDate(DateTime() + 1)
    item.reindexObject()
    transaction.commit()
    publish(item)
    api.content.transition(obj=item, transition="retract")
    transaction.commit()

    from conftest import browser_for

    browser = browser_for(portal, "siteadmin")
    browser.handleErrors = True
    browser.addHeader("Accept-Language", "de")
    browser.open(portal.absolute_url() + "/@@messenger-dashboard")
    assert browser.headers["status"].startswith("200"), browser.contents[:500]
    (row,) = post_rows(browser)["Markt am Sonntag"]
    assert row[4] == "keine Empfänger"
