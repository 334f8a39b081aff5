"""``@@messenger-manage/<token>``: change topics, leave, delete with confirmation; unknown links 404."""

import re
from urllib.parse import urlencode

import lxml.html
import pytest
import transaction
from conftest import browser_for

from collective.messenger.subscribers import Consent
from collective.messenger.subscribers import get_store

NUMBER = "+4915123456789"


def subscribe(site, channel="signal", address=NUMBER, topics=("warnungen",)):
    store = get_store(site)
    pending = store.add_pending(
        channel,
        list(topics),
        "en",
        Consent(privacy_version="x", path="page"),
        address=address if channel in ("signal", "threema") else None,
    )
    subscriber = store.activate(
        pending, address=None if channel in ("signal", "threema") else address
    )
    transaction.commit()
    return subscriber.id, subscriber.manage_token


def manage_url(site, token):
    return f"{site.absolute_url()}/@@messenger-manage/{token}"


def form_key(html):
    return re.search(r'name="manage_authenticator"[^>]*value="([^"]+)"', html).group(1)


def post(browser, url, data):
    browser.post(url, urlencode(data, doseq=True))
    return browser


def stored(site, subscriber_id):
    transaction.begin()
    return get_store(site).get(subscriber_id)


def reply_jobs(plone_redis, kind):
    return sorted(
        key.decode() for key in plone_redis.scan_iter(f"rq:job:reply-{kind}_*")
    )


@pytest.fixture
def subscribed(site):
    return subscribe(site)


def test_page_shows_masked_address_and_privacy_headers(site, subscribed):
    _sid, token = subscribed
    browser = browser_for(site)
    browser.open(manage_url(site, token))
    assert browser.headers["status"].startswith("200")
    assert browser.headers["Cache-Control"] == "no-store"
    assert browser.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in browser.headers["X-Robots-Tag"]
    html = browser.contents
    [robots] = lxml.html.fromstring(html).xpath('//head/meta[@name="robots"]/@content')
    assert robots == "noindex, nofollow"
    assert "Signal" in html and "+49 1512 ••• 89" in html
    assert "23456789" not in html
    assert re.search(
        r'<input[^>]*checked[^>]*value="warnungen"|<input[^>]*value="warnungen"[^>]*checked',
        html,
    )


def test_telegram_shows_no_chat_id(site):
    _sid, token = subscribe(site, channel="telegram", address="987654321")
    browser = browser_for(site)
    browser.open(manage_url(site, token))
    assert "Telegram" in browser.contents and "chat" in browser.contents
    assert "987654321" not in browser.contents


def test_change_topics(site, subscribed):
    sid, token = subscribed
    browser = browser_for(site)
    browser.open(manage_url(site, token))
    post(
        browser,
        manage_url(site, token),
        {
            "manage_authenticator": form_key(browser.contents),
            "action": "save",
            "topics": ["veranstaltungen", "baustellen-verkehr"],
            "mode": "immediate",
        },
    )
    assert "Your changes have been saved." in browser.contents
    assert stored(site, sid).topics == ("baustellen-verkehr", "veranstaltungen")

    # No topic at all is refused with a message next to the topics; nothing changes.
    post(
        browser,
        manage_url(site, token),
        {"manage_authenticator": form_key(browser.contents), "action": "save"},
    )
    assert browser.headers["status"].startswith("400")
    assert "Please choose at least one topic." in browser.contents
    assert 'aria-describedby="messenger-manage-topics-error"' in browser.contents
    assert stored(site, sid).topics == ("baustellen-verkehr", "veranstaltungen")


def test_post_without_the_form_token_changes_nothing(site, subscribed):
    sid, token = subscribed
    browser = browser_for(site)
    for key in (None, "forged", "0" * 64):
        data = {"action": "unsubscribe"}
        if key:
            data["manage_authenticator"] = key
        post(browser, manage_url(site, token), data)
        assert browser.headers["status"].startswith("400")
        assert "This form is out of date." in browser.contents
    # The token of another subscriber's page does not fit this one.
    _other, other_token = subscribe(site, address="+4915123456780")
    browser.open(manage_url(site, other_token))
    post(
        browser,
        manage_url(site, token),
        {"manage_authenticator": form_key(browser.contents), "action": "unsubscribe"},
    )
    assert browser.headers["status"].startswith("400")
    assert stored(site, sid).state == "active"


def test_unsubscribe_queues_goodbye(site, subscribed, plone_redis):
    sid, token = subscribed
    browser = browser_for(site)
    browser.open(manage_url(site, token))
    post(
        browser,
        manage_url(site, token),
        {"manage_authenticator": form_key(browser.contents), "action": "unsubscribe"},
    )
    assert "You have left." in browser.contents
    assert stored(site, sid).state == "unsubscribed"
    assert len(reply_jobs(plone_redis, "goodbye")) == 1
    # Afterwards: no topic form, but the way back and the delete button.
    assert 'id="messenger-manage-form"' not in browser.contents
    assert "To subscribe again, please sign up again." in browser.contents
    assert f'href="{site.absolute_url()}/@@messenger-signup"' in browser.contents
    assert 'id="messenger-delete-form"' in browser.contents


def test_logged_in_visitor_can_use_the_page(site, subscribed):
    """plone.protect checks logged-in users' writes; the page's own token must satisfy it."""
    sid, token = subscribed
    browser = browser_for(site, "member")
    browser.open(manage_url(site, token))
    post(
        browser,
        manage_url(site, token),
        {
            "manage_authenticator": form_key(browser.contents),
            "action": "save",
            "topics": ["rathaus-aktuell"],
        },
    )
    assert "Your changes have been saved." in browser.contents
    assert stored(site, sid).topics == ("rathaus-aktuell",)


def test_delete_needs_confirmation(site, subscribed):
    sid, token = subscribed
    browser = browser_for(site)
    browser.open(manage_url(site, token))
    post(
        browser,
        manage_url(site, token),
        {"manage_authenticator": form_key(browser.contents), "action": "delete"},
    )
    assert "Delete all your data?" in browser.contents
    assert stored(site, sid) is not None

    post(
        browser,
        manage_url(site, token),
        {"manage_authenticator": form_key(browser.contents), "action": "cancel"},
    )
    assert "Your subscription" in browser.contents
    assert stored(site, sid) is not None

    post(
        browser,
        manage_url(site, token),
        {"manage_authenticator": form_key(browser.contents), "action": "delete"},
    )
    post(
        browser,
        manage_url(site, token),
        {
            "manage_authenticator": form_key(browser.contents),
            "action": "delete-confirmed",
        },
    )
    assert "Your data has been deleted" in browser.contents
    transaction.begin()
    store = get_store(site)
    assert store.get(sid) is None and store.by_address("signal", NUMBER) is None
    assert store.check() == []

    browser.open(manage_url(site, token))
    assert browser.headers["status"].startswith("404")


@pytest.mark.parametrize(
    "path", ["", "/unknown-token", "/" + "A" * 43, "/<script>", "/a/b"]
)
def test_unknown_links_are_a_friendly_404(site, path):
    browser = browser_for(site)
    browser.handleErrors = True
    browser.open(f"{site.absolute_url()}/@@messenger-manage{path}")
    assert browser.headers["status"].startswith("404")
    assert "Traceback" not in browser.contents
    assert "<script>" not in browser.contents
    assert "This link is unknown or no longer valid." in browser.contents
    assert browser.headers["Cache-Control"] == "no-store"
