"""Point 22: "Erase all messenger data" before uninstalling: subscribers, the outbox, the
stored secrets, every messenger:* key (the published settings with their secrets) and the
messenger queues' jobs go; content, settings and other applications' Redis data stay."""

import lxml.html
import pytest
import transaction
from conftest import browser_for
from conftest import SCREENSHOTS
from plone import api
from rq import Queue
from rq.serializers import JSONSerializer
from status_support import failing_batch
from status_support import news
from status_support import prepare
from status_support import publish
from status_support import subscribe
from status_support import text_of
from test_browser_controlpanel import log_in
from zope.annotation.interfaces import IAnnotations

from collective.messenger.settings.secrets import SecretStore
from messenger_worker import keys
from messenger_worker.keys import SETTINGS_KEY

BOT_TOKEN = "123456:erase-me-bot-token"


def other_app_data(redis):
    """Data of another application on the same Redis: must survive."""
    other = Queue("newsletter", connection=redis)
    job = other.enqueue("os.getcwd", job_id="newsletter-1")
    redis.set("session:42", "someone else's session")
    redis.set(
        "newsletter:messenger:flag", "1"
    )  # has "messenger" in it, but not our prefix
    return job.id


def populate(portal, redis):
    subscribe([1001, 1002])
    subscribe(["+4915112345671"], channel="signal")
    item = news(portal, title="Vollsperrung Hauptstraße")
    publish(item)
    SecretStore(portal).set("telegram_bot_token", BOT_TOKEN)
    transaction.commit()  # publishes the settings, with the stored token, to messenger:settings
    failing_batch(redis, "p-old")
    return item


@pytest.fixture
def portal(site, sandbox):
    return prepare(site, sandbox)


def erase_page(site, user="siteadmin"):
    browser = browser_for(site, user)
    browser.handleErrors = True
    browser.open(site.absolute_url() + "/@@messenger-erase")
    return browser


def token_of(browser):
    return lxml.html.fromstring(browser.contents).xpath(
        '//input[@name="_authenticator"]/@value'
    )[0]


def our_annotations(site):
    return [
        key
        for key in IAnnotations(site)
        if str(key).startswith("collective.messenger.")
    ]


def messenger_job_ids(redis):
    return [
        job_id
        for name in keys.QUEUES
        for job_id in Queue(
            name, connection=redis, serializer=JSONSerializer
        ).get_job_ids()
    ]


def test_erases_all_messenger_data_and_nothing_else(portal, plone_redis):
    item = populate(portal, plone_redis)
    other_job = other_app_data(plone_redis)
    assert BOT_TOKEN in plone_redis.hget(SETTINGS_KEY, "json").decode()
    assert messenger_job_ids(plone_redis)
    assert {
        "collective.messenger.subscribers",
        "collective.messenger.outbox",
        "collective.messenger.secrets",
    } <= set(our_annotations(portal))

    browser = erase_page(portal)
    listed = text_of(
        lxml.html.fromstring(browser.contents).xpath(
            '//ul[@id="messenger-erase-list"]'
        )[0]
    )
    assert "Subscribers: 3," in listed and "Posts in the outbox: 1," in listed
    redis_keys = len(list(plone_redis.scan_iter(match="messenger:*")))
    assert f"Redis keys starting with messenger:: {redis_keys} (" in listed
    browser.getControl(name="confirm").value = True
    browser.getControl(name="form.buttons.erase").click()
    assert browser.headers["status"].startswith("200")
    assert (
        "All messenger data was erased: subscribers 3, posts 1, Redis keys"
        in browser.contents
    )

    transaction.begin()
    assert our_annotations(portal) == []
    assert list(plone_redis.scan_iter(match="messenger:*")) == []
    assert messenger_job_ids(plone_redis) == []
    assert not any(
        plone_redis.exists(f"rq:job:{job_id}") for job_id in ("msg-p-old-telegram-0",)
    )
    assert not [k for k in plone_redis.scan_iter(match="rq:*") if b"messenger" in k]
    # Nothing else: the other application's queue and job, other keys, the content, settings.
    assert Queue("newsletter", connection=plone_redis).get_job_ids() == [other_job]
    assert plone_redis.exists(f"rq:job:{other_job}")
    assert plone_redis.get("session:42") == b"someone else's session"
    assert plone_redis.get("newsletter:messenger:flag") == b"1"
    assert api.content.get(UID=item.UID()) is not None
    assert (
        api.portal.get_registry_record("collective.messenger.telegram_enabled") is True
    )
    # The page now shows nothing left.
    assert "Subscribers: <strong>0</strong>" in browser.contents


def test_nothing_is_erased_without_the_confirmation(portal, plone_redis):
    populate(portal, plone_redis)
    browser = erase_page(portal)
    browser.getControl(name="form.buttons.erase").click()
    assert browser.headers["status"].startswith("400")
    assert "Nothing was erased: tick the box" in browser.contents
    transaction.begin()
    assert "collective.messenger.subscribers" in our_annotations(portal)
    assert plone_redis.exists(SETTINGS_KEY)


def test_nothing_is_erased_without_the_authenticator_or_by_others(portal, plone_redis):
    populate(portal, plone_redis)
    url = portal.absolute_url() + "/@@messenger-erase"
    admin = erase_page(portal)
    token = token_of(admin)
    admin.post(url, "confirm=erase&form.buttons.erase=1")
    assert admin.headers["status"].startswith("403")
    for user in (None, "member", "editor", "reviewer"):
        browser = erase_page(portal, user)
        assert "What is erased" not in browser.contents
        browser.post(url, f"_authenticator={token}&confirm=erase&form.buttons.erase=1")
    transaction.begin()
    assert "collective.messenger.subscribers" in our_annotations(portal)
    assert plone_redis.exists(SETTINGS_KEY)


def test_nothing_is_erased_while_redis_is_down(portal, plone_redis, monkeypatch):
    from messenger_worker.testing import free_port

    populate(portal, plone_redis)
    browser = erase_page(portal)
    token = token_of(browser)
    monkeypatch.setenv("MESSENGER_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    browser.open(portal.absolute_url() + "/@@messenger-erase")
    assert (
        "is not reachable" in browser.contents
        and "What is erased" not in browser.contents
    )
    browser.post(
        portal.absolute_url() + "/@@messenger-erase",
        f"_authenticator={token}&confirm=erase&form.buttons.erase=1",
    )
    assert browser.headers["status"].startswith("503")
    assert "Nothing was erased: Redis" in browser.contents
    monkeypatch.undo()
    transaction.begin()
    assert "collective.messenger.subscribers" in our_annotations(portal)
    assert plone_redis.exists(SETTINGS_KEY)


def test_an_admin_erases_from_the_dashboard_in_a_browser(
    page, live_site, acceptance, plone_redis
):
    portal = prepare(acceptance["portal"])
    subscribe([1001])
    transaction.commit()
    log_in(page, live_site, "siteadmin")
    page.goto(f"{live_site}/@@messenger-dashboard")
    page.get_by_role("link", name="Erase all messenger data").click()
    assert page.locator("h1").inner_text() == "Erase all messenger data"
    assert "Subscribers: 1," in page.locator("#messenger-erase-list").inner_text()
    page.screenshot(path=f"{SCREENSHOTS}/erase-all.png", full_page=True)
    page.set_viewport_size({"width": 360, "height": 800})
    page.screenshot(path=f"{SCREENSHOTS}/erase-all-360.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.set_viewport_size({"width": 1280, "height": 900})
    button = page.get_by_role("button", name="Erase all messenger data")
    button.click()  # the browser asks for the tick first: nothing is sent
    assert page.locator("#messenger-erase-confirm").evaluate(
        "box => !box.validity.valid"
    )
    page.get_by_label(
        "I understand that all messenger data listed above is erased for good."
    ).check()
    button.click()
    page.wait_for_selector("text=All messenger data was erased: subscribers 1,")
    transaction.begin()
    assert "collective.messenger.subscribers" not in IAnnotations(portal)


def test_uninstalling_takes_the_published_settings_and_their_secrets_from_redis(
    site, plone_redis
):
    SecretStore(site).set("telegram_bot_token", BOT_TOKEN)
    transaction.commit()
    assert BOT_TOKEN in plone_redis.hget(SETTINGS_KEY, "json").decode()
    installer = api.content.get_view("installer", site, site.REQUEST)
    installer.uninstall_product("collective.messenger")
    transaction.commit()
    assert not plone_redis.exists(SETTINGS_KEY)
    assert not [
        key
        for key in plone_redis.scan_iter()
        if BOT_TOKEN.encode() in (plone_redis.dump(key) or b"")
    ]


def test_the_page_in_german(portal, plone_redis):
    from conftest import PASSWORD
    from plone.testing.zope import Browser

    populate(portal, plone_redis)
    api.portal.set_registry_record("plone.available_languages", ["en", "de"])
    api.portal.set_registry_record("plone.use_request_negotiation", True)
    transaction.commit()
    browser = Browser(portal.aq_parent)
    browser.addHeader("Authorization", f"Basic siteadmin:{PASSWORD}")
    browser.addHeader("Accept-Language", "de-DE,de;q=0.9")
    browser.open(portal.absolute_url() + "/@@messenger-erase")
    listed = text_of(
        lxml.html.fromstring(browser.contents).xpath(
            '//ul[@id="messenger-erase-list"]'
        )[0]
    )
    assert "Alle Messenger-Daten löschen" in browser.contents
    assert "Abonnements: 3, mit ihren Nummern" in listed
    assert "Redis-Schlüssel, die mit messenger: beginnen:" in listed


def test_zope_acl_user_may_erase_and_take_the_housekeeping_lock():
    """The hardened Redis of the README: Zope's ACL user can scan and unlink its keys and
    take the clock's lock, and still cannot touch anything but messenger:* and rq:*."""
    import redis as redis_py

    from collective.messenger import erasure
    from messenger_worker.connection import ZOPE_ACL_RULES
    from messenger_worker.testing import RedisServer

    server = RedisServer(
        password="admin-Secret-0", acl=[f"user zope on >zope-Secret-1 {ZOPE_ACL_RULES}"]
    ).start()
    try:
        admin = server.client()
        zope = redis_py.Redis.from_url(server.url_for("zope", "zope-Secret-1"))
        zope.set("messenger:post:p1", "{}")
        Queue(keys.QUEUE_DEFAULT, connection=zope, serializer=JSONSerializer).enqueue(
            "os.getcwd", job_id="msg-p1-telegram-0"
        )
        admin.set("session:42", "x")
        assert zope.set("messenger:housekeeping:/plone", "zope-1", nx=True, ex=270)
        erasure._erase_queues(zope)
        erasure._erase_keys(zope)
        assert sorted(admin.keys()) == [b"session:42"]
    finally:
        server.remove()
