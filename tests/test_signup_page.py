"""The ``@@messenger-signup`` page: the form, errors per field, honeypot, the nonce, the next steps."""

import re
from urllib.parse import urlencode

import pytest
import transaction
from plone.testing.zope import Browser

from collective.messenger.demo.sandbox import use_sandbox
from collective.messenger.subscribers import get_store

OFFLINE_URL = (
    "http://127.0.0.1:9"  # nothing is sent in these tests: the worker is not running
)
TOPICS = ["baustellen-verkehr", "veranstaltungen", "rathaus-aktuell", "warnungen"]


def enable_channels(site, *channels, base_url=OFFLINE_URL):
    """Switch ``channels`` on with the sandbox's credentials (pointing at ``base_url``)."""
    use_sandbox(base_url, channels, site=site)
    transaction.commit()


def anonymous(site):
    browser = Browser(site.aq_parent)
    browser.handleErrors = False
    browser.raiseHttpErrors = False
    return browser


def signup_url(site):
    return f"{site.absolute_url()}/@@messenger-signup"


def form_values(html, prefix="messenger-signup"):
    """The hidden fields of the rendered signup form."""
    return {
        name: re.search(rf'name="{name}"[^>]*value="([^"]*)"', html).group(1)
        for name in ("request_key", "path", "step", "form_token")
    }


def post(browser, url, data, token=True):
    """POST like the page's own form: with its token unless ``token`` is False."""
    if token and "form_token" not in data:
        browser.open(url.split("/@@")[0] + "/@@messenger-signup")
        data = dict(data, form_token=form_values(browser.contents)["form_token"])
    browser.post(url, urlencode(data, doseq=True))
    return browser


def pending_subscribers(site):
    transaction.begin()
    return [
        s
        for s in get_store(site)._subscribers.values()
        if getattr(s, "state", None) == "pending"
    ]


@pytest.fixture
def telegram_site(site):
    enable_channels(site, "telegram")
    return site


def test_form_offers_topics_channels_and_consent(site):
    enable_channels(site, "telegram", "signal")
    browser = anonymous(site)
    browser.open(signup_url(site) + "?topics=warnungen,freibad")
    assert browser.headers["status"].startswith("200")
    html = browser.contents
    for topic in TOPICS:
        assert f'value="{topic}"' in html
    # ?topics= preselects the known topic; the unknown one is dropped.
    assert re.search(
        r'<input[^>]*checked[^>]*value="warnungen"|<input[^>]*value="warnungen"[^>]*checked',
        html,
    )
    assert (
        len(re.findall(r'name="topics"[^>]*checked|checked[^>]*name="topics"', html))
        == 1
    )
    assert 'value="telegram"' in html and 'value="signal"' in html
    assert 'value="whatsapp"' not in html and 'value="threema"' not in html
    assert 'data-needs="phone"' in html
    # Without JavaScript the phone field is there, with a hint naming who needs it.
    assert 'name="phone"' in html and "Only for Signal:" in html
    assert 'name="consent"' in html
    # Every input has a label.
    for input_id in re.findall(r'<input[^>]*id="([^"]+)"', html):
        assert f'for="{input_id}"' in html, input_id
    assert 'name="website"' in html and 'tabindex="-1"' in html
    assert len(form_values(html)["request_key"]) >= 16


def test_no_channel_no_form(site):
    browser = anonymous(site)
    browser.open(signup_url(site))
    assert "Subscriptions are not open yet." in browser.contents
    assert 'name="channel"' not in browser.contents


def test_errors_are_shown_per_field(telegram_site):
    enable_channels(telegram_site, "signal")
    browser = anonymous(telegram_site)
    browser.open(signup_url(telegram_site))
    hidden = form_values(browser.contents)
    post(browser, signup_url(telegram_site), dict(hidden, channel="signal", phone="12"))
    assert browser.headers["status"].startswith("400")
    html = browser.contents
    assert "Please check your entries" in html
    assert "Please choose at least one topic." in html
    assert "This is not a valid mobile number." in html
    assert "Please agree to the privacy notice to subscribe." in html
    # Each message is linked to its field(s).
    assert 'id="messenger-signup-phone-error"' in html
    assert re.search(
        r'aria-describedby="messenger-signup-phone-hint messenger-signup-phone-error"',
        html,
    )
    assert re.search(r'aria-describedby="[^"]*messenger-signup-consent-error"', html)
    assert re.search(r'aria-describedby="[^"]*messenger-signup-topics-error"', html)
    # The summary links to the fields; what was entered stays.
    assert 'href="#messenger-signup-phone"' in html
    assert 'value="12"' in html
    assert re.search(r'value="signal"[^>]*checked|checked[^>]*value="signal"', html)
    assert pending_subscribers(telegram_site) == []


def test_honeypot_refuses_without_storing(telegram_site):
    browser = anonymous(telegram_site)
    browser.open(signup_url(telegram_site))
    data = dict(
        form_values(browser.contents),
        topics=["warnungen"],
        channel="telegram",
        consent="1",
        website="http://spam.example",
    )
    post(browser, signup_url(telegram_site), data)
    assert browser.headers["status"].startswith("400")
    assert "Your signup could not be processed." in browser.contents
    assert pending_subscribers(telegram_site) == []


def test_telegram_next_step_and_double_submit(telegram_site):
    browser = anonymous(telegram_site)
    browser.open(signup_url(telegram_site) + "?topics=warnungen")
    data = dict(
        form_values(browser.contents),
        topics=["warnungen", "veranstaltungen"],
        channel="telegram",
        consent="1",
        website="",
    )
    post(browser, signup_url(telegram_site), data)
    assert browser.headers["status"].startswith("200")
    assert browser.headers["Cache-Control"] == "no-store"
    link = re.search(
        r'href="(https://t\.me/musterstadt_bot\?start=[A-Za-z0-9_-]{1,64})"',
        browser.contents,
    ).group(1)
    assert "Open Telegram" in browser.contents
    assert '<svg role="img"' in browser.contents and "24 hours" in browser.contents
    # The same form sent again (double click, reload) is the same signup.
    post(browser, signup_url(telegram_site), data)
    assert link in browser.contents
    [pending] = pending_subscribers(telegram_site)
    assert link.endswith(pending.confirm_token)
    assert pending.topics == ("veranstaltungen", "warnungen")
    assert pending.consent.path == "page"


def test_portlet_path_is_recorded(telegram_site):
    browser = anonymous(telegram_site)
    data = {
        "step": "signup",
        "path": "portlet",
        "request_key": "k" * 24,
        "topics": "warnungen",
        "channel": "telegram",
        "consent": "1",
    }
    post(browser, signup_url(telegram_site), data)
    assert "Open Telegram" in browser.contents
    [pending] = pending_subscribers(telegram_site)
    assert pending.consent.path == "portlet"


def test_whatsapp_next_step(site):
    enable_channels(site, "whatsapp")
    browser = anonymous(site)
    post(
        browser,
        signup_url(site),
        {"topics": "warnungen", "channel": "whatsapp", "consent": "1"},
    )
    assert "Open WhatsApp" in browser.contents
    assert re.search(
        r'href="https://wa\.me/4930123456\?text=START%20[A-Za-z0-9_-]+"',
        browser.contents,
    )


def test_rate_limit_says_how_long_to_wait(telegram_site):
    browser = anonymous(telegram_site)
    data = {"topics": "warnungen", "channel": "telegram", "consent": "1"}
    for _attempt in range(10):
        post(browser, signup_url(telegram_site), data)
        assert "Open Telegram" in browser.contents
    post(browser, signup_url(telegram_site), data)
    assert browser.headers["status"].startswith("429")
    assert 0 < int(browser.headers["Retry-After"]) <= 60
    assert re.search(r"Please try again in \d+ seconds\.", browser.contents)
    assert "Traceback" not in browser.contents


def test_bad_input_never_breaks_the_page(telegram_site):
    browser = anonymous(telegram_site)
    for data in (
        {"topics": ["x" * 500] * 3, "channel": ["telegram", "signal"], "consent": "1"},
        {"step": "confirm", "token": "nonsense", "code": "12"},
        {"step": "resend", "token": ["a", "b"]},
        {"step": "whatever", "request_key": "<script>"},
    ):
        post(browser, signup_url(telegram_site), data)
        assert browser.headers["status"][:3] in ("200", "400"), data
        assert "Traceback" not in browser.contents


# -- Signal: the code goes to the phone; the citizen types it on the site ----------------------


def code_on_phone(sandbox, number, count=1):
    """The code in the ``count``-th message the sandbox's Signal phone ``number`` received."""
    from conftest import wait_until

    messages = wait_until(
        lambda: (
            len(sandbox.messages(channel="signal", recipient=number)) >= count
            and sandbox.messages(channel="signal", recipient=number)
        ),
        timeout=30,
        message=f"code message {count} on the Signal phone",
    )
    return re.search(r": (\d{6})", messages[count - 1]["text"]).group(1)


def test_signal_code_flow(site, sandbox, plone_worker):
    enable_channels(site, "signal", base_url=sandbox.url)
    plone_worker()
    browser = anonymous(site)
    browser.open(signup_url(site))
    data = dict(
        form_values(browser.contents),
        topics="warnungen",
        channel="signal",
        phone="0151 2345 6789",
        consent="1",
    )
    post(browser, signup_url(site), data)
    html = browser.contents
    assert "We sent a code to your number" in html and "+49 1512 ••• 89" in html
    assert "23456789" not in html
    assert 'autocomplete="one-time-code"' in html and 'inputmode="numeric"' in html
    token = re.search(r'name="token"[^>]*value="([^"]+)"', html).group(1)
    code = code_on_phone(sandbox, "+4915123456789")

    wrong = "000000" if code != "000000" else "111111"
    post(browser, signup_url(site), {"step": "confirm", "token": token, "code": wrong})
    assert browser.headers["status"].startswith("400")
    assert "This code is not correct. You have 4 more attempts." in browser.contents
    transaction.begin()
    assert (
        get_store(site).by_confirm_token(token).code.attempts == 1
    )  # the attempt was committed

    post(browser, signup_url(site), {"step": "confirm", "token": token, "code": code})
    assert "You are subscribed" in browser.contents
    transaction.begin()
    subscriber = get_store(site).by_address("signal", "+4915123456789")
    assert subscriber.state == "active" and subscriber.topics == ("warnungen",)

    post(browser, signup_url(site), {"step": "confirm", "token": token, "code": code})
    assert "This signup is unknown or has expired." in browser.contents


def test_signal_resend_is_limited(site, plone_redis):
    enable_channels(site, "signal")
    browser = anonymous(site)
    post(
        browser,
        signup_url(site),
        {
            "topics": "warnungen",
            "channel": "signal",
            "phone": "+49 151 23456780",
            "consent": "1",
        },
    )
    token = re.search(r'name="token"[^>]*value="([^"]+)"', browser.contents).group(1)
    for _attempt in range(2):
        post(browser, signup_url(site), {"step": "resend", "token": token})
        assert "We have sent you a new code." in browser.contents
    post(browser, signup_url(site), {"step": "resend", "token": token})
    assert browser.headers["status"].startswith("429")
    assert "We have already sent 3 codes to this number today." in browser.contents
    assert 'name="code"' in browser.contents  # the last code still works


def test_logged_in_visitor_can_sign_up_without_plone_token(telegram_site):
    """plone.protect would refuse a logged-in user's write without its form token; the
    portlet may come from a page rendered for someone else, so the signup needs none."""
    from conftest import PASSWORD

    browser = anonymous(telegram_site)
    browser.addHeader("Authorization", f"Basic member:{PASSWORD}")
    post(
        browser,
        signup_url(telegram_site),
        {"topics": "warnungen", "channel": "telegram", "consent": "1"},
    )
    assert browser.headers["status"].startswith("200")
    assert "Open Telegram" in browser.contents
    assert len(pending_subscribers(telegram_site)) == 1
