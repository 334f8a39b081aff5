"""The WhatsApp channel against the sandbox's Cloud API, over real HTTP."""

import pytest
import requests

from messenger_worker.channels import channel_class
from messenger_worker.payload import Post
from messenger_worker.payload import Recipient

NUMBER = "+4915112345678"
WA_ID = "4915112345678"


@pytest.fixture
def whatsapp(sandbox):
    with requests.Session() as session:
        yield channel_class("whatsapp")(
            sandbox.channel_settings("whatsapp"), session, timeout=(2, 2)
        )


def make_post(**changes):
    values = dict(
        id="p1",
        content_uid="uid-1",
        kind="event",
        title="Weihnachtsmarkt\neröffnet",
        url="https://www.musterstadt.de/aktuelles/weihnachtsmarkt",
        teaser="Glühwein & Waffeln\tam Marktplatz.",
        image_url="https://www.musterstadt.de/markt.jpg",
        start="2026-11-27T16:00:00+01:00",
        end="2026-11-27T21:00:00+01:00",
        location="Marktplatz",
    )
    values.update(changes)
    return Post(**values)


def to(address=NUMBER):
    return Recipient("s1", "whatsapp", address)


def test_post_is_sent_as_the_approved_template(sandbox, whatsapp):
    outcome = whatsapp.send(make_post(), to())
    assert outcome.kind == "sent", outcome.reason
    assert outcome.message_id.startswith("wamid.")
    [message] = sandbox.messages(channel="whatsapp", recipient=WA_ID)
    assert message["kind"] == "template"
    assert message["template"] == "musterstadt_post"
    assert message["image"] == "https://www.musterstadt.de/markt.jpg"
    assert message["text"] == (
        "Neu aus Musterstadt: Weihnachtsmarkt eröffnet\n\n"
        "Glühwein & Waffeln am Marktplatz. · Fr., 27.11.2026, 16:00 Uhr – 21:00 Uhr · Marktplatz"
    )
    assert message["buttons"] == [
        {
            "text": "Weiterlesen",
            "url": "https://www.musterstadt.de/aktuelles/weihnachtsmarkt",
        }
    ]


def test_post_without_image_goes_out_as_the_template_without_header(sandbox, whatsapp):
    assert whatsapp.settings["image_template_name"] == "musterstadt_post"
    outcome = whatsapp.send(make_post(image_url=None), to())
    assert outcome.kind == "sent", outcome.reason
    [message] = sandbox.messages(channel="whatsapp", recipient=WA_ID)
    assert message["template"] == "musterstadt_post_text"
    assert message["image"] is None
    assert message["text"].startswith(
        "Neu aus Musterstadt: Weihnachtsmarkt eröffnet\n\n"
    )


def test_post_with_image_and_no_image_template_leaves_the_image_out(sandbox, whatsapp):
    whatsapp.settings = dict(whatsapp.settings, image_template_name=None)
    outcome = whatsapp.send(make_post(), to())
    assert outcome.kind == "sent", outcome.reason
    [message] = sandbox.messages(channel="whatsapp", recipient=WA_ID)
    assert message["template"] == "musterstadt_post_text"
    assert message["image"] is None
    assert message["buttons"] == [
        {
            "text": "Weiterlesen",
            "url": "https://www.musterstadt.de/aktuelles/weihnachtsmarkt",
        }
    ]


def test_image_template_as_broadcast_template_fails_saying_where_it_belongs(
    sandbox, whatsapp
):
    # A site that kept its image template in the old single setting.
    whatsapp.settings = dict(
        whatsapp.settings, template_name="musterstadt_post", image_template_name=""
    )
    outcome = whatsapp.send(make_post(image_url=None), to())
    assert outcome.kind == "failed"
    assert "header does not fit this post" in outcome.reason
    assert "'Template for posts with an image'" in outcome.reason
    assert sandbox.messages(channel="whatsapp") == []


def test_throughput_limit_retries_and_pauses_the_bucket(sandbox, whatsapp):
    sandbox.configure(whatsapp={"rate_limit": 1, "burst": 1})
    assert whatsapp.send(make_post(), to()).kind == "sent"
    outcome = whatsapp.send(make_post(), to("+4915199999999"))
    assert outcome.kind == "retry"
    assert outcome.pause_bucket is True
    assert outcome.retry_after > 0
    assert "130429" in outcome.reason


def test_pair_rate_limit_retries_this_recipient_only(sandbox, whatsapp):
    sandbox.configure(whatsapp={"pair_interval": 60})
    assert whatsapp.send(make_post(), to()).kind == "sent"
    outcome = whatsapp.send(make_post(), to())
    assert outcome.kind == "retry"
    assert outcome.pause_bucket is False
    assert outcome.retry_after == 6
    assert whatsapp.send(make_post(), to("+4915199999999")).kind == "sent"


@pytest.mark.parametrize(
    "listing, words",
    [
        ("undeliverable", "cannot deliver"),
        ("unknown", "cannot deliver"),
        ("marketing_opt_out", "stopped marketing messages"),
    ],
)
def test_unreachable_numbers_are_gone(sandbox, whatsapp, listing, words):
    sandbox.configure(whatsapp={listing: [WA_ID]})
    outcome = whatsapp.send(make_post(), to())
    assert outcome.kind == "gone"
    assert words in outcome.reason


def test_free_text_outside_the_service_window_fails(sandbox, whatsapp):
    outcome = whatsapp.send_text(to(), "Danke für Ihre Nachricht!")
    assert outcome.kind == "failed"
    assert "service window closed, a template is needed" in outcome.reason
    assert sandbox.messages(channel="whatsapp") == []


def test_free_text_inside_the_service_window_is_sent(sandbox, whatsapp):
    sandbox.citizen("whatsapp", WA_ID, text="Hallo")
    outcome = whatsapp.send_text(to(), "Danke für Ihre Nachricht!")
    assert outcome.kind == "sent", outcome.reason
    [message] = sandbox.messages(channel="whatsapp", recipient=WA_ID)
    assert message["kind"] == "text"
    assert message["text"] == "Danke für Ihre Nachricht!"


def test_invalid_token_pauses_the_channel(sandbox, whatsapp):
    sandbox.configure(whatsapp={"bad_token": True})
    outcome = whatsapp.send(make_post(), to())
    assert outcome.kind == "pause"
    assert "access token" in outcome.reason
    assert whatsapp.settings["access_token"] not in outcome.reason


@pytest.mark.parametrize(
    "setting, image_url",
    [
        ("template_name", None),
        ("image_template_name", "https://www.musterstadt.de/markt.jpg"),
    ],
)
def test_unknown_template_pauses_the_channel(whatsapp, setting, image_url):
    whatsapp.settings = dict(whatsapp.settings, **{setting: "gibt_es_nicht"})
    outcome = whatsapp.send(make_post(image_url=image_url), to())
    assert outcome.kind == "pause"
    assert "template does not exist" in outcome.reason


def test_wrong_phone_number_id_pauses_the_channel(whatsapp):
    whatsapp.settings = dict(whatsapp.settings, phone_number_id="999")
    outcome = whatsapp.send(make_post(), to())
    assert outcome.kind == "pause"
    assert "phone number ID" in outcome.reason


def test_server_errors_are_retried_with_back_off(sandbox, whatsapp):
    sandbox.configure(whatsapp={"error_rate": 1.0})
    outcome = whatsapp.send(make_post(), to())
    assert outcome.kind == "retry"
    assert outcome.retry_after is None


def test_timeout_is_retried_with_back_off(sandbox):
    sandbox.configure(whatsapp={"latency_ms": 1500})
    with requests.Session() as session:
        channel = channel_class("whatsapp")(
            sandbox.channel_settings("whatsapp"), session, timeout=(1, 0.5)
        )
        outcome = channel.send(make_post(), to())
    assert outcome.kind == "retry"
    assert outcome.retry_after is None
    assert "did not answer in time" in outcome.reason


def test_check_reports_the_number(whatsapp):
    result = whatsapp.check()
    assert result.ok is True
    assert "Stadt Musterstadt" in result.detail
    assert "GREEN" in result.detail


def test_check_with_a_bad_token(sandbox, whatsapp):
    sandbox.configure(whatsapp={"bad_token": True})
    result = whatsapp.check()
    assert result.ok is False
    assert "access token" in result.detail


def test_account_is_the_phone_number_id(whatsapp):
    assert whatsapp.account() == "100200300"
