"""The shared signup steps (collective.messenger.signup) on a real site with a real Redis."""

import json

import pytest
import transaction
from plone import api
from reply_texts import queued_replies
from zope.component.hooks import setSite
from zope.globalrequest import setRequest
from zope.i18n import translate

from collective.messenger.demo.sandbox import use_sandbox
from collective.messenger.signup import commands
from collective.messenger.signup import flow
from collective.messenger.signup import offer
from collective.messenger.signup import phones
from collective.messenger.signup.ratelimit import RateLimited
from collective.messenger.subscribers import get_store

SANDBOX = "http://127.0.0.1:9"


@pytest.fixture
def portal(site):
    setSite(site)
    setRequest(site.REQUEST)
    site.REQUEST.environ["REMOTE_ADDR"] = "192.0.2.10"
    use_sandbox(SANDBOX)
    transaction.commit()
    return site


def queued_reply_texts(redis):
    """Texts of the reply jobs waiting in Redis (beside the jobs, see ``reply_texts``)."""
    return list(queued_replies(redis).values())


def signup(**changes):
    data = {
        "topics": ["warnungen"],
        "channel": "telegram",
        "consent": "on",
        "website": "",
    }
    data.update(changes)
    return data


def test_offer_lists_enabled_and_complete_channels_only(portal):
    assert [c["id"] for c in offer.offered_channels()] == [
        "telegram",
        "whatsapp",
        "signal",
        "threema",
    ]
    api.portal.set_registry_record("collective.messenger.whatsapp_enabled", False)
    api.portal.set_registry_record("collective.messenger.signal_sender_number", "")
    assert [c["id"] for c in offer.offered_channels()] == ["telegram", "threema"]
    assert [t["id"] for t in offer.offered_topics()][:2] == [
        "baustellen-verkehr",
        "veranstaltungen",
    ]
    assert len(offer.privacy()["version"]) == 12


def test_every_field_error_at_once(portal):
    with pytest.raises(flow.SignupInvalid) as caught:
        flow.start_signup(
            {"topics": ["nope"], "channel": "fax", "consent": ""},
            "page",
            portal.REQUEST,
        )
    assert set(caught.value.errors) == {"topics", "channel", "consent"}
    with pytest.raises(flow.SignupInvalid) as caught:
        flow.start_signup(
            signup(channel="signal", phone="030 1234567"), "page", portal.REQUEST
        )
    assert set(caught.value.errors) == {"phone"}
    assert "landline" in translate(caught.value.errors["phone"])
    assert get_store().counts()["total"] == 0


def test_honeypot_refuses_and_stores_nothing(portal):
    with pytest.raises(flow.SignupInvalid) as caught:
        flow.start_signup(signup(website="http://spam.example"), "page", portal.REQUEST)
    assert set(caught.value.errors) == {"form"}
    assert get_store().counts()["total"] == 0


def test_telegram_signup_gives_deep_link_and_qr_code(portal):
    step = flow.start_signup(signup(), "portlet", portal.REQUEST)
    assert step.kind == "link"
    assert step.link == f"https://t.me/musterstadt_bot?start={step.token}"
    assert step.qr_svg.startswith("<svg") and 'role="img"' in step.qr_svg
    body = step.as_json()
    json.dumps(body)
    subscriber = get_store().get(step.subscriber_id)
    assert subscriber.is_pending and subscriber.consent.path == "portlet"
    assert subscriber.consent.privacy_version == offer.privacy()["version"]


def test_whatsapp_link_carries_start_and_token(portal):
    step = flow.start_signup(signup(channel="whatsapp"), "page", portal.REQUEST)
    assert step.link == f"https://wa.me/4930123456?text=START%20{step.token}"


def test_same_request_key_stores_one_signup(portal):
    first = flow.start_signup(signup(), "page", portal.REQUEST, request_key="nonce-1")
    again = flow.start_signup(signup(), "page", portal.REQUEST, request_key="nonce-1")
    assert first.subscriber_id == again.subscriber_id
    assert get_store().counts()["states"]["pending"] == 1


def test_code_is_queued_after_commit_only(portal, plone_redis):
    step = flow.start_signup(
        signup(channel="signal", phone="0151 12345678"), "page", portal.REQUEST
    )
    assert step.kind == "code" and step.link is None
    assert step.as_json()["sent_to"].endswith("78")
    assert queued_reply_texts(plone_redis) == []
    transaction.commit()
    [text] = queued_reply_texts(plone_redis)
    code = text.split(": ", 1)[1][:6]
    assert code.isdigit()

    wrong = flow.confirm_code(step.token, "000000" if code != "000000" else "111111")
    assert not wrong.ok and "4 more attempts" in translate(wrong.message)
    transaction.commit()
    result = flow.confirm_code(step.token, code)
    assert result.ok and result.subscriber.is_active
    assert result.subscriber.address == "+4915112345678"
    transaction.commit()
    texts = queued_reply_texts(plone_redis)
    assert any(
        t.startswith("Welcome!") and "@@messenger-manage/" in t and "STOP" in t
        for t in texts
    )


def test_aborted_transaction_queues_nothing(portal, plone_redis):
    flow.start_signup(
        signup(channel="threema", phone="echoecho"), "page", portal.REQUEST
    )
    transaction.abort()
    assert queued_reply_texts(plone_redis) == []
    assert get_store().counts()["total"] == 0


def test_signups_per_ip_are_limited(portal):
    for number in range(10):
        flow.start_signup(signup(), "page", portal.REQUEST)
    with pytest.raises(RateLimited) as caught:
        flow.start_signup(signup(), "page", portal.REQUEST)
    assert 0 < caught.value.retry_after <= 60
    portal.REQUEST.environ["REMOTE_ADDR"] = "192.0.2.11"
    flow.start_signup(signup(), "page", portal.REQUEST)


def test_three_codes_a_day_per_number(portal):
    step = flow.start_signup(
        signup(channel="signal", phone="+49 151 12345678"), "page", portal.REQUEST
    )
    flow.resend_code(step.token, portal.REQUEST)
    flow.resend_code(step.token, portal.REQUEST)
    with pytest.raises(RateLimited) as caught:
        flow.resend_code(step.token, portal.REQUEST)
    assert "3 codes" in translate(caught.value.message)
    portal.REQUEST.environ["REMOTE_ADDR"] = "192.0.2.12"
    with pytest.raises(RateLimited):
        flow.start_signup(
            signup(channel="signal", phone="+49 151 12345678"), "page", portal.REQUEST
        )
    assert (
        get_store().counts()["states"]["pending"] == 1
    )  # the refused signup left nothing


def test_replayed_signup_does_not_use_up_a_code(portal):
    data = signup(channel="signal", phone="+49 151 12345678")
    for attempt in range(5):
        flow.start_signup(data, "page", portal.REQUEST, request_key="same-form")
    assert get_store().counts()["states"]["pending"] == 1
    flow.start_signup(
        data, "page", portal.REQUEST
    )  # a second code today, still allowed


def test_start_and_stop_commands(portal, plone_redis):
    step = flow.start_signup(
        signup(topics=["warnungen", "veranstaltungen"]), "portlet", portal.REQUEST
    )
    transaction.commit()
    assert (
        commands.handle_message("telegram", 4711, f"/start {step.token}")
        == commands.ACTIVATED
    )
    transaction.commit()
    subscriber = get_store().by_address("telegram", "4711")
    assert subscriber.is_active
    assert (
        commands.handle_message("telegram", 4711, "/start") == commands.ALREADY_ACTIVE
    )
    assert commands.handle_message("telegram", 4711, "Hallo") == commands.IGNORED
    assert (
        commands.handle_message("telegram", 4711, "Abmelden") == commands.UNSUBSCRIBED
    )
    transaction.commit()
    assert get_store().by_address("telegram", "4711").state == "unsubscribed"
    assert commands.handle_message("telegram", 4711, "/stop") == commands.NOT_SUBSCRIBED
    assert (
        commands.handle_message("telegram", 4712, f"/start {step.token}")
        == commands.UNKNOWN_TOKEN
    )
    transaction.commit()
    texts = queued_reply_texts(plone_redis)
    assert any("Veranstaltungen, Warnungen" in t for t in texts)
    assert any(t.startswith("You have left.") for t in texts)
    assert any("unknown or has expired" in t for t in texts)


@pytest.mark.parametrize(
    "text",
    ["STOP", "Stop", "stop", "/stop", "/stop@musterstadt_bot", "Abmelden", "abmelden!"],
)
def test_stop_words(text):
    assert commands.STOP.match(text)


@pytest.mark.parametrize("text", ["stopp the car", "bitte abmelden sofort", "/starter"])
def test_not_commands(text):
    assert not commands.STOP.match(text) and not commands.START.match(text)


def test_masked_addresses_hide_the_middle():
    assert phones.mask_address("signal", "+4915112345678") == "+49 1511 ••• 78"
    assert phones.mask_address("whatsapp", "4915112345678") == "+49 1511 ••• 78"
    assert phones.mask_address("telegram", "4711") == ""
    assert phones.mask_address("threema", "ECHOECHO") == "EC••••HO"
