"""The Threema channel against the sandbox's Gateway (Basic mode), over real HTTP."""

import pytest
import requests

from messenger_worker import render
from messenger_worker.channels import channel_class
from messenger_worker.payload import Post
from messenger_worker.payload import Recipient

NUMBER = "+4915112345678"


@pytest.fixture
def threema(sandbox):
    with requests.Session() as session:
        yield channel_class("threema")(
            sandbox.channel_settings("threema"), session, timeout=(2, 2)
        )


def make_post(**changes):
    values = dict(
        id="p1",
        content_uid="uid-1",
        kind="construction_notice",
        title="Brücke gesperrt",
        url="https://www.musterstadt.de/aktuelles/bruecke",
        teaser="Die Mainbrücke ist gesperrt.",
    )
    values.update(changes)
    return Post(**values)


def to(address):
    return Recipient("s1", "threema", address)


def test_sent_to_a_threema_id(sandbox, threema):
    outcome = threema.send(make_post(), to("ECHOECHO"))
    assert outcome.kind == "sent", outcome.reason
    assert len(outcome.message_id) == 16
    [message] = sandbox.messages(channel="threema", recipient="ECHOECHO")
    assert message["recipient_type"] == "identity"
    assert message["text"] == (
        "Brücke gesperrt\n\nDie Mainbrücke ist gesperrt.\n\n"
        "https://www.musterstadt.de/aktuelles/bruecke"
    )


def test_sent_to_a_phone_number(sandbox, threema):
    assert threema.send(make_post(), to(NUMBER)).kind == "sent"
    [message] = sandbox.messages(channel="threema", recipient="4915112345678")
    assert message["recipient_type"] == "phone"


def test_long_text_is_cut_to_3500_bytes_keeping_the_link(sandbox, threema):
    outcome = threema.send(
        make_post(teaser="Straßensperrung wegen Brückenprüfung. " * 200), to("ECHOECHO")
    )
    assert outcome.kind == "sent", outcome.reason
    [message] = sandbox.messages(channel="threema", recipient="ECHOECHO")
    assert 3400 < render.utf8_size(message["text"]) <= 3500
    assert message["text"].endswith("…\n\nhttps://www.musterstadt.de/aktuelles/bruecke")


def test_unknown_phone_number_is_gone(sandbox, threema):
    sandbox.configure(threema={"unknown": ["4915112345678"]})
    outcome = threema.send(make_post(), to(NUMBER))
    assert outcome.kind == "gone"
    assert "does not know" in outcome.reason


def test_invalid_threema_id_fails(sandbox, threema):
    sandbox.configure(threema={"unknown": ["NOSUCHID"]})
    outcome = threema.send(make_post(), to("NOSUCHID"))
    assert outcome.kind == "failed"
    assert "(400)" in outcome.reason


def test_wrong_secret_pauses_the_channel(sandbox, threema):
    sandbox.configure(threema={"bad_token": True})
    outcome = threema.send(make_post(), to("ECHOECHO"))
    assert outcome.kind == "pause"
    assert "secret" in outcome.reason
    assert threema.settings["api_secret"] not in outcome.reason


def test_no_credits_pauses_the_channel(sandbox, threema):
    sandbox.configure(threema={"no_credits": True})
    outcome = threema.send(make_post(), to("ECHOECHO"))
    assert outcome.kind == "pause"
    assert "no credits" in outcome.reason


def test_rate_limit_retries_and_pauses_the_bucket(sandbox, threema):
    sandbox.configure(threema={"rate_limit": 0.01, "burst": 1})
    assert threema.send(make_post(), to("ECHOECHO")).kind == "sent"
    outcome = threema.send(make_post(), to("ECHOECHO"))
    assert outcome.kind == "retry"
    assert outcome.pause_bucket is True
    assert outcome.retry_after > 0


def test_server_errors_are_retried_with_back_off(sandbox, threema):
    sandbox.configure(threema={"error_rate": 1.0})
    outcome = threema.send(make_post(), to("ECHOECHO"))
    assert outcome.kind == "retry"
    assert outcome.retry_after is None


def test_timeout_is_retried_with_back_off(sandbox):
    sandbox.configure(threema={"latency_ms": 1500})
    with requests.Session() as session:
        channel = channel_class("threema")(
            sandbox.channel_settings("threema"), session, timeout=(1, 0.5)
        )
        outcome = channel.send(make_post(), to("ECHOECHO"))
    assert outcome.kind == "retry"
    assert outcome.retry_after is None


def test_check_reports_the_credits(sandbox, threema):
    sandbox.configure(threema={"credits": 42})
    result = threema.check()
    assert result.ok is True
    assert "42 credits" in result.detail


def test_check_without_credits_fails(sandbox, threema):
    sandbox.configure(threema={"no_credits": True})
    result = threema.check()
    assert result.ok is False
    assert "no credits" in result.detail


def test_check_with_a_wrong_secret(sandbox, threema):
    sandbox.configure(threema={"bad_token": True})
    result = threema.check()
    assert result.ok is False
    assert "secret" in result.detail


def test_account_is_the_gateway_id(threema):
    assert threema.account() == "*MUSTER1"
