"""Replies to citizens are never lost when Redis is down at commit (the reply outbox), and
"link" in the chat sends the manage link again. Real site, real Redis; nothing is sent."""

import os
from datetime import timedelta

import pytest
import transaction
from reply_texts import queued_replies
from zope.component.hooks import setSite
from zope.globalrequest import setRequest

from collective.messenger.demo.sandbox import use_sandbox
from collective.messenger.publishing import dispatch
from collective.messenger.signup import commands
from collective.messenger.signup import flow
from collective.messenger.signup.reply_outbox import get_reply_outbox
from collective.messenger.subscribers import get_store
from messenger_worker.connection import REDIS_URL_VARIABLE

SANDBOX = "http://127.0.0.1:9"
NUMBER = "+4915123456781"


@pytest.fixture
def portal(site):
    setSite(site)
    setRequest(site.REQUEST)
    site.REQUEST.environ["REMOTE_ADDR"] = "192.0.2.20"
    use_sandbox(SANDBOX)
    transaction.commit()
    return site


class RedisDown:
    """Point Plone at a port where nothing listens, as when Redis is down."""

    def __enter__(self):
        self.real_url = os.environ[REDIS_URL_VARIABLE]
        os.environ[REDIS_URL_VARIABLE] = "redis://127.0.0.1:9/0"
        return self

    def __exit__(self, *exc):
        os.environ[REDIS_URL_VARIABLE] = self.real_url


def code_signup(number=NUMBER, channel="signal"):
    data = {
        "topics": ["warnungen"],
        "channel": channel,
        "phone": number,
        "consent": "on",
        "website": "",
    }
    return flow.start_signup(data, "page", current_request())


def current_request():
    from zope.globalrequest import getRequest

    return getRequest()


def waiting(kind=""):
    transaction.begin()
    box = get_reply_outbox(create=False)
    return [
        entry
        for entry in (box.waiting() if box is not None else [])
        if entry.reply_id.startswith(kind)
    ]


def telegram_subscriber(chat_id="4711"):
    step = flow.start_signup(
        {
            "topics": ["warnungen"],
            "channel": "telegram",
            "consent": "on",
            "website": "",
        },
        "page",
        current_request(),
    )
    transaction.commit()
    assert (
        commands.handle_message("telegram", chat_id, f"/start {step.token}")
        == commands.ACTIVATED
    )
    transaction.commit()
    transaction.begin()
    return get_store().by_address("telegram", chat_id)


def test_code_waits_while_redis_is_down_and_the_drain_sends_it(portal, plone_redis):
    with RedisDown():
        step = code_signup()
        transaction.commit()  # the signup succeeds although the code cannot be queued
    assert queued_replies(plone_redis) == {}
    [entry] = waiting("code-")
    assert "Your confirmation code" in entry.text and entry.recipient[2] == NUMBER

    result = dispatch.drain()  # the button, @messenger-dispatch, the next publication
    transaction.commit()
    assert result["replies_sent"] == 1 and result["replies_waiting"] == 0
    [(reply_id, text)] = queued_replies(plone_redis).items()
    assert reply_id == entry.reply_id and "Your confirmation code" in text
    assert waiting() == []
    assert get_store().by_confirm_token(step.token).is_pending
    assert dispatch.drain()["replies_sent"] == 0  # nothing doubled


def test_handed_over_reply_keeps_no_text_in_the_zodb(portal, plone_redis):
    code_signup()
    transaction.commit()  # hands it over; a transaction of its own empties the record
    assert len(queued_replies(plone_redis)) == 1
    transaction.begin()
    [entry] = get_reply_outbox().entries()
    assert entry.handed_over and entry.text is None and entry.recipient is None
    assert waiting() == []
    result = dispatch.drain()  # removes the emptied records
    transaction.commit()
    assert result["replies_sent"] == 0
    transaction.begin()
    assert get_reply_outbox().entries() == []


def test_the_next_reply_hands_over_the_waiting_ones(portal, plone_redis):
    with RedisDown():
        subscriber = telegram_subscriber()  # welcome cannot be queued
    [welcome] = waiting()
    assert welcome.reply_id.startswith(f"welcome-{subscriber.id}-")
    code_signup()
    transaction.commit()
    kinds = sorted(
        reply_id.split("-", 1)[0] for reply_id in queued_replies(plone_redis)
    )
    assert kinds == ["code", "welcome"]
    assert waiting() == []


def test_goodbye_waits_too(portal, plone_redis):
    subscriber = telegram_subscriber()
    with RedisDown():
        assert (
            commands.handle_message("telegram", "4711", "STOP") == commands.UNSUBSCRIBED
        )
        transaction.commit()
    [entry] = waiting("goodbye-")
    assert entry.subscriber_id == subscriber.id
    dispatch.drain()
    transaction.commit()
    assert any(
        reply_id.startswith("goodbye-") for reply_id in queued_replies(plone_redis)
    )


def test_a_failed_request_records_no_reply(portal, plone_redis):
    with RedisDown():
        code_signup()
        transaction.abort()
    assert waiting() == []


def test_a_code_past_its_validity_is_dropped_not_sent(portal, plone_redis):
    with RedisDown():
        code_signup()
        transaction.commit()
    [entry] = waiting("code-")
    entry.expires = entry.created - timedelta(seconds=1)  # as if 15 minutes had passed
    transaction.commit()
    result = dispatch.drain()
    transaction.commit()
    assert result["replies_dropped"] == 1 and result["replies_sent"] == 0
    assert queued_replies(plone_redis) == {} and waiting() == []


def test_a_deleted_subscribers_waiting_reply_is_dropped(portal, plone_redis):
    with RedisDown():
        subscriber = telegram_subscriber()
    get_store().delete(get_store().get(subscriber.id))
    transaction.commit()
    result = dispatch.drain()
    transaction.commit()
    assert result["replies_dropped"] == 1 and queued_replies(plone_redis) == {}


@pytest.mark.parametrize(
    "text", ["link", "Link", "/link", "LINK", "/link@musterstadt_bot", " link! "]
)
def test_link_sends_the_manage_link_again(portal, plone_redis, text):
    subscriber = telegram_subscriber()
    plone_redis.flushall()
    assert commands.handle_message("telegram", "4711", text) == commands.LINK_SENT
    transaction.commit()
    [(reply_id, reply)] = queued_replies(plone_redis).items()
    assert reply_id.startswith(f"link-{subscriber.id}-")
    assert f"@@messenger-manage/{subscriber.manage_token}" in reply
    # Asked twice in a row (or one webhook delivered twice): one message.
    commands.handle_message("telegram", "4711", text)
    transaction.commit()
    assert len(queued_replies(plone_redis)) == 1


def test_link_for_nobody_says_not_subscribed(portal, plone_redis):
    assert commands.handle_message("telegram", "999", "link") == commands.NOT_SUBSCRIBED
    transaction.commit()
    [reply] = queued_replies(plone_redis).values()
    assert "You are not subscribed" in reply and "@@messenger-manage" not in reply


@pytest.mark.parametrize("text", ["linked", "link me", "my link is broken"])
def test_not_the_link_command(text):
    assert not commands.LINK.match(text)


def test_dashboard_shows_waiting_replies_and_sends_them(portal, plone_redis):
    import re
    from urllib.parse import urlencode

    from conftest import browser_for

    with RedisDown():
        code_signup()
        transaction.commit()
        admin = browser_for(portal, "siteadmin")
        admin.open(
            f"{portal.absolute_url()}/@@messenger-dashboard"
        )  # opens without Redis, too
        assert admin.headers["status"].startswith("200")
        assert "Replies waiting for the queue: 1." in admin.contents
    admin.open(f"{portal.absolute_url()}/@@messenger-dashboard")
    section = re.search(
        r'id="messenger-code-budget".*?</section>', admin.contents, re.S
    ).group(0)
    assert "Replies waiting for the queue: 1." in section
    authenticator = re.search(r'name="_authenticator" value="([^"]+)"', section).group(
        1
    )
    admin.post(
        f"{portal.absolute_url()}/@@messenger-send-replies",
        urlencode({"_authenticator": authenticator}),
    )
    assert "Replies handed to the queue: 1." in admin.contents
    assert "No replies are waiting." in admin.contents
    [reply_id] = queued_replies(plone_redis)
    assert reply_id.startswith("code-")
    # Without the authenticator nothing happens.
    from zExceptions import Forbidden

    with pytest.raises(Forbidden):
        browser_for(portal, "siteadmin").post(
            f"{portal.absolute_url()}/@@messenger-send-replies", ""
        )


@pytest.mark.parametrize(
    "channel,address", [("signal", "+4915123456783"), ("whatsapp", "4915123456784")]
)
def test_link_works_on_signal_and_whatsapp(portal, plone_redis, channel, address):
    from collective.messenger.subscribers import Consent

    store = get_store()
    pending = store.add_pending(
        channel,
        ["warnungen"],
        "de",
        Consent(privacy_version="x", path="page"),
        address=address if channel == "signal" else None,
    )
    subscriber = store.activate(
        pending, address=None if channel == "signal" else address
    )
    transaction.commit()
    assert commands.handle_message(channel, address, "Link") == commands.LINK_SENT
    transaction.commit()
    [reply] = [
        text
        for reply_id, text in queued_replies(plone_redis).items()
        if reply_id.startswith("link-")
    ]
    assert f"@@messenger-manage/{subscriber.manage_token}" in reply
    assert "Ihr persönlicher Link" in reply  # in the subscriber's language
