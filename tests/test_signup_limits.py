"""Abuse limits of the citizen pages: manage-token guessing, the daily code budget per channel,
the signup form's own token and cross-site POSTs, and Redis key names without personal data.
Real site, real Redis; nothing is sent (no worker)."""

import hashlib
import json
import re
import time

import pytest
import transaction
from conftest import browser_for
from plone import api
from test_manage_page import manage_url
from test_manage_page import subscribe
from test_signup_page import enable_channels
from test_signup_page import form_values
from test_signup_page import pending_subscribers
from test_signup_page import post
from test_signup_page import signup_url
from zope.component.hooks import setSite

from collective.messenger.browser import signup_token
from collective.messenger.signup import ratelimit
from collective.messenger.subscribers import get_store

GUESSER = "198.51.100.66"
OWNER = "203.0.113.5"


def client(site, address):
    """An anonymous browser whose requests come from ``address``."""
    browser = browser_for(site)
    browser.testapp.extra_environ["REMOTE_ADDR"] = address
    return browser


def unknown_token(number):
    return f"guess{number:04d}" + "A" * 34


# -- point 18: manage-token look-ups -------------------------------------------------------------


def test_manage_page_refuses_a_guesser_with_429(site):
    _id, token = subscribe(site)
    guesser = client(site, GUESSER)
    for number in range(ratelimit.MANAGE_MISSES_PER_WINDOW):
        guesser.open(manage_url(site, unknown_token(number)))
        assert guesser.headers["status"].startswith("404"), number
    guesser.open(manage_url(site, unknown_token(999)))
    assert guesser.headers["status"].startswith("429")
    assert 3000 < int(guesser.headers["Retry-After"]) <= 3600
    assert (
        "Too many unknown links were opened from your connection." in guesser.contents
    )
    assert "Traceback" not in guesser.contents
    # Refused without looking: a right token answers the same, so the refusal tells nothing.
    guesser.open(manage_url(site, token))
    assert guesser.headers["status"].startswith("429")
    assert "Your subscription" not in guesser.contents
    # Everybody else is not affected.
    owner = client(site, OWNER)
    owner.open(manage_url(site, token))
    assert (
        owner.headers["status"].startswith("200")
        and "Your subscription" in owner.contents
    )


def test_the_owner_is_never_limited(site):
    _id, token = subscribe(site)
    owner = client(site, OWNER)
    for _load in range(ratelimit.MANAGE_MISSES_PER_WINDOW * 2):
        owner.open(manage_url(site, token))
        assert owner.headers["status"].startswith("200")


def test_rest_manage_look_ups_are_limited_too(site):
    _id, token = subscribe(site)
    guesser = client(site, GUESSER)
    guesser.addHeader("Accept", "application/json")
    for number in range(ratelimit.MANAGE_MISSES_PER_WINDOW):
        guesser.open(
            f"{site.absolute_url()}/@messenger-subscriptions/{unknown_token(number)}"
        )
        assert guesser.headers["status"].startswith("404"), number
    guesser.open(f"{site.absolute_url()}/@messenger-subscriptions/{token}")
    assert guesser.headers["status"].startswith("429")
    assert int(guesser.headers["Retry-After"]) > 0
    error = json.loads(guesser.contents)["error"]
    assert (
        error["type"] == "RateLimited" and "Too many unknown links" in error["message"]
    )
    # PATCH and DELETE are refused alike, and change nothing.
    url = f"{site.absolute_url()}/@messenger-subscriptions/{token}"
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    for method, body in (("PATCH", b'{"state": "unsubscribed"}'), ("DELETE", b"")):
        answer = guesser.testapp.request(
            url, method=method, body=body, headers=headers, expect_errors=True
        )
        assert answer.status_int == 429, (method, answer.status)
    transaction.begin()
    assert get_store(site).by_manage_token(token).is_active
    owner = client(site, OWNER)
    owner.addHeader("Accept", "application/json")
    for _load in range(ratelimit.MANAGE_MISSES_PER_WINDOW + 5):
        owner.open(f"{site.absolute_url()}/@messenger-subscriptions/{token}")
        assert owner.headers["status"].startswith("200")


# -- point 19: the daily code budget per channel --------------------------------------------------


@pytest.fixture
def code_site(site):
    enable_channels(site, "signal", "threema")
    api.portal.set_registry_record("collective.messenger.signal_codes_per_day", 2)
    transaction.commit()
    return site


def signal_signup(browser, site, number, channel="signal"):
    return post(
        browser,
        signup_url(site),
        {"topics": "warnungen", "channel": channel, "phone": number, "consent": "1"},
    )


def test_code_budget_refuses_politely_when_spent(code_site, plone_redis):
    site = code_site
    browser = client(site, "192.0.2.31")
    for number in ("+4915123456701", "+4915123456702"):
        signal_signup(browser, site, number)
        assert 'name="code"' in browser.contents
    signal_signup(browser, site, "+4915123456703")
    assert browser.headers["status"].startswith("429")
    assert "We cannot send more confirmation codes by Signal today." in browser.contents
    assert "choose another messenger" in browser.contents
    assert 0 < int(browser.headers["Retry-After"]) <= 24 * 3600
    assert len(pending_subscribers(site)) == 2  # the refused signup stored nothing
    # Threema has a budget of its own.
    signal_signup(browser, site, "+4917612345670", channel="threema")
    assert 'name="code"' in browser.contents
    # A new code for a pending Signal signup comes out of the same budget.
    first = [s for s in pending_subscribers(site) if s.channel == "signal"][0]
    post(browser, signup_url(site), {"step": "resend", "token": first.confirm_token})
    assert browser.headers["status"].startswith("429")
    assert "We cannot send more confirmation codes by Signal today." in browser.contents
    setSite(site)
    assert ratelimit.codes_sent_today("signal") == 2
    assert ratelimit.codes_sent_today("threema") == 1


def test_dashboard_shows_the_code_budget(code_site, plone_redis):
    site = code_site
    browser = client(site, "192.0.2.32")
    for number in ("+4915123456711", "+4915123456712"):
        signal_signup(browser, site, number)
    admin = browser_for(site, "siteadmin")
    admin.open(f"{site.absolute_url()}/@@messenger-dashboard")
    assert admin.headers["status"].startswith("200")
    html = admin.contents
    budget = re.search(
        r'<section[^>]*id="messenger-code-budget".*?</section>', html, re.S
    ).group(0)
    assert re.search(r"Signal.*?2 of 2.*?used up", budget, re.S)
    assert re.search(r"Threema.*?0 of 500", budget, re.S)


# -- point 19: the signup form's own token ----------------------------------------------------------


@pytest.fixture
def telegram_site(site):
    enable_channels(site, "telegram")
    return site


def signup_data(browser, site):
    browser.open(signup_url(site))
    return dict(
        form_values(browser.contents),
        topics="warnungen",
        channel="telegram",
        consent="1",
    )


def test_post_without_the_form_token_is_refused(telegram_site):
    browser = client(telegram_site, "192.0.2.41")
    data = signup_data(browser, telegram_site)
    del data["form_token"]
    post(browser, signup_url(telegram_site), data, token=False)
    assert browser.headers["status"].startswith("400")
    assert (
        "This form was out of date. Please check your entries and send it again."
        in browser.contents
    )
    assert pending_subscribers(telegram_site) == []
    # The form comes back with the entries and a fresh token: sending it again works.
    data = dict(
        form_values(browser.contents),
        topics="warnungen",
        channel="telegram",
        consent="1",
    )
    post(browser, signup_url(telegram_site), data)
    assert "Open Telegram" in browser.contents


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Origin": "https://evil.example"},  # a browser without Sec-Fetch-Site
    ],
)
def test_cross_site_post_is_refused_even_with_a_copied_token(telegram_site, headers):
    browser = client(telegram_site, "192.0.2.42")
    data = signup_data(
        browser, telegram_site
    )  # another site can read the token of a public page
    for name, value in headers.items():
        browser.addHeader(name, value)
    post(browser, signup_url(telegram_site), data)
    assert browser.headers["status"].startswith("403")
    assert (
        "This signup came from another website and was not processed."
        in browser.contents
    )
    assert pending_subscribers(telegram_site) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "same-origin", "Origin": "null"},
        {"Origin": "null"},  # our pages send no referrer, so browsers send Origin: null
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_own_posts_are_accepted(telegram_site, headers):
    browser = client(telegram_site, "192.0.2.43")
    data = signup_data(browser, telegram_site)
    for name, value in headers.items():
        browser.addHeader(name, value)
    post(browser, signup_url(telegram_site), data)
    assert "Open Telegram" in browser.contents


def test_form_token_survives_a_day_in_a_cache(site):
    setSite(site)
    now = time.time()
    assert signup_token.is_valid(signup_token.form_token(now - 24 * 3600), now)
    assert not signup_token.is_valid(signup_token.form_token(now - 3 * 24 * 3600), now)
    assert signup_token.is_valid(
        signup_token.form_token(now + 60), now
    )  # a clock a bit ahead
    assert not signup_token.is_valid(signup_token.form_token(now + 13 * 3600), now)
    for bad in (
        None,
        "",
        "x",
        "1.2.3",
        "abc.def",
        ["a"],
        f"{int(now // 21600)}.{'0' * 64}",
    ):
        assert not signup_token.is_valid(bad, now)
    # The same token for every visitor in a window: a cached page stays valid.
    assert signup_token.form_token(now) == signup_token.form_token(now)


# -- point 3: no phone number or IP address in Redis key names ----------------------------------


def test_limit_keys_are_keyed_hashes(code_site, plone_redis):
    number = "+4915123456721"
    browser = client(code_site, "192.0.2.51")
    signal_signup(browser, code_site, number)
    keys = [key.decode() for key in plone_redis.keys("messenger:limit:*")]
    assert any(key.startswith("messenger:limit:code:") for key in keys)
    assert any(key.startswith("messenger:limit:signup:") for key in keys)
    plain = {
        hashlib.sha256(value.encode()).hexdigest()[:32]
        for value in (number, "192.0.2.51")
    }
    for key in keys:
        assert number not in key and "192.0.2.51" not in key
        assert (
            key.rsplit(":", 1)[1] not in plain
        )  # not a plain hash either: tried in minutes
    setSite(code_site)
    transaction.begin()
    assert ratelimit.limit_key("code", number) in keys  # the same name on every request
    assert get_store(code_site) is not None


# -- behind a caching proxy: one rendering of the form for everybody -------------------------------


def test_two_citizens_on_one_cached_page_get_their_own_signups(telegram_site):
    first = client(telegram_site, "192.0.2.61")
    cached_form = signup_data(first, telegram_site)  # what the proxy hands to everybody
    post(first, signup_url(telegram_site), cached_form)
    first_link = re.search(r'href="(https://t\.me/[^"]+)"', first.contents).group(1)
    post(
        first, signup_url(telegram_site), cached_form
    )  # a double click: the same signup
    assert first_link in first.contents
    second = client(telegram_site, "192.0.2.62")
    post(second, signup_url(telegram_site), cached_form)
    second_link = re.search(r'href="(https://t\.me/[^"]+)"', second.contents).group(1)
    assert second_link != first_link
    assert len(pending_subscribers(telegram_site)) == 2


def test_a_spent_budget_is_logged_once_a_day(code_site, plone_redis, caplog):
    browser = client(code_site, "192.0.2.71")
    for number in (
        "+4915123456731",
        "+4915123456732",
        "+4915123456733",
        "+4915123456734",
    ):
        signal_signup(browser, code_site, number)
    spent = [
        r
        for r in caplog.records
        if "daily code budget of signal (2) is spent" in r.getMessage()
    ]
    assert len(spent) == 1 and spent[0].levelname == "WARNING"
    assert "control panel" in spent[0].getMessage()


def test_an_ipv6_guesser_cannot_escape_by_changing_addresses(site):
    _id, token = subscribe(site)
    for number in range(ratelimit.MANAGE_MISSES_PER_WINDOW):
        guesser = client(
            site, f"2001:db8:7:1::{number + 1:x}"
        )  # one /64, a new address each time
        guesser.open(manage_url(site, unknown_token(number)))
        assert guesser.headers["status"].startswith("404")
    guesser = client(site, "2001:db8:7:1:ffff::1")
    guesser.open(manage_url(site, token))
    assert guesser.headers["status"].startswith("429")
    neighbour = client(site, "2001:db8:7:2::1")  # another /64
    neighbour.open(manage_url(site, token))
    assert neighbour.headers["status"].startswith("200")
    assert ratelimit.client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert ratelimit.client_key("unknown") == "unknown"
