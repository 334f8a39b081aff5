"""The sandbox's signal-cli-rest-api and Threema Gateway, over real HTTP to the subprocess."""

import base64
import json

import pytest
import requests

SENDER = "+4915111111111"
CITIZEN = "+4915122222222"


@pytest.fixture
def signal_send(sandbox):
    def send(**payload):
        data = dict(
            {"number": SENDER, "recipients": [CITIZEN], "message": "Hallo"}, **payload
        )
        return requests.post(
            f"{sandbox.api_url('signal')}/v2/send", json=data, timeout=5
        )

    return send


@pytest.fixture
def threema_send(sandbox):
    def send(**fields):
        data = dict(
            {
                "from": "*MUSTER1",
                "to": "ECHOECHO",
                "secret": "SANDBOX-THREEMA",
                "text": "Hallo",
            },
            **fields,
        )
        return requests.post(
            f"{sandbox.api_url('threema')}/send_simple",
            data={k: v for k, v in data.items() if v is not None},
            timeout=5,
        )

    return send


# -- Signal ------------------------------------------------------------------------------------


def test_signal_settings_and_about(sandbox):
    settings = sandbox.channel_settings("signal")
    assert (
        settings["api_url"] == sandbox.url + "/signal"
        and settings["sender_number"] == SENDER
    )
    about = requests.get(f"{settings['api_url']}/v1/about", timeout=5).json()
    assert about["versions"] == ["v1", "v2"] and about["mode"] == "json-rpc"


def test_signal_send(signal_send, sandbox):
    picture = base64.b64encode(b"\x89PNG fake").decode()
    answer = signal_send(
        message="**Stadtfest** am Samstag",
        text_mode="styled",
        base64_attachments=[f"data:image/png;filename=fest.png;base64,{picture}"],
    )
    assert answer.status_code == 201
    timestamp = answer.json()["timestamp"]
    assert timestamp.isdigit() and len(timestamp) == 13
    [record] = sandbox.messages(channel="signal", recipient=CITIZEN)
    assert (record["kind"], record["text"], record["message_id"]) == (
        "photo",
        "**Stadtfest** am Samstag",
        timestamp,
    )
    assert record["image"].startswith("data:image/png;base64,")
    assert int(signal_send().json()["timestamp"]) > int(timestamp)
    page = requests.get(
        f"{sandbox.url}/_sandbox/phone/signal/{CITIZEN}", timeout=5
    ).text
    assert "<b>Stadtfest</b> am Samstag" in page


def test_signal_errors(signal_send, sandbox):
    sandbox.configure(signal={"unknown": ["+4915100000000"]})
    unregistered = signal_send(recipients=["+4915100000000"])
    assert unregistered.status_code == 400
    assert unregistered.json() == {
        "error": 'Failed to send (some) messages:\n+4915100000000: Unregistered user "+4915100000000"\n'
    }
    wrong_account = signal_send(number="+4915199999999")
    assert wrong_account.json() == {"error": "User +4915199999999 is not registered.\n"}
    assert signal_send(recipients=[]).json()["error"] == (
        "Couldn't process request - please provide at least one recipient"
    )
    assert signal_send(base64_attachments=["kein base64!"]).status_code == 400
    stats = sandbox.stats()["signal"]
    assert (stats["refused"], stats["validation_errors"], stats["accepted"]) == (
        2,
        2,
        0,
    )


def test_signal_rate_limit(signal_send, sandbox):
    sandbox.configure(signal={"rate_limit": 1, "burst": 1})
    assert signal_send().status_code == 201
    limited = signal_send()
    assert limited.status_code == 429
    body = limited.json()
    assert body["error"].startswith("Failed to send message due to rate limiting.")
    assert body["challenge_tokens"] and body["account"] == SENDER
    sandbox.configure(signal={"rate_limit_style": "legacy"})
    legacy = signal_send()
    assert legacy.status_code == 400
    assert "[413] Rate limit exceeded" in legacy.json()["error"]
    assert sandbox.stats()["signal"]["rate_limited"] == 2


def test_signal_injected_errors(signal_send, sandbox):
    sandbox.configure(signal={"error_rate": 1.0})
    assert signal_send().status_code == 500


def test_signal_inbound_envelope(sandbox, webhook_receiver):
    sandbox.configure(signal={"webhook_url": webhook_receiver.url})
    answer = sandbox.citizen("signal", CITIZEN, text="123456", name="Erika")
    assert answer["webhook"]["status"] == 200
    payload = json.loads(webhook_receiver.wait(1)[0]["body"])
    envelope = payload["envelope"]
    assert payload["account"] == SENDER
    assert (envelope["source"], envelope["sourceNumber"], envelope["sourceName"]) == (
        CITIZEN,
        CITIZEN,
        "Erika",
    )
    assert envelope["dataMessage"]["message"] == "123456"
    # The same envelope waits for /v1/receive (signal-cli-rest-api's normal mode).
    received = requests.get(
        f"{sandbox.api_url('signal')}/v1/receive/{SENDER}", timeout=5
    ).json()
    assert received == [payload]


# -- Threema -----------------------------------------------------------------------------------


def test_threema_settings(sandbox):
    settings = sandbox.channel_settings("threema")
    assert (settings["gateway_id"], settings["api_secret"]) == (
        "*MUSTER1",
        "SANDBOX-THREEMA",
    )
    assert settings["api_url"] == sandbox.url + "/threema"


def test_threema_send_simple(threema_send, sandbox):
    answer = threema_send(to="echoecho", text="Baustelle Hauptstraße")
    assert answer.status_code == 200
    assert len(answer.text) == 16 and int(answer.text, 16) >= 0
    by_phone = threema_send(to=None, phone="41791234567")
    assert by_phone.status_code == 200
    [first, second] = sandbox.messages(channel="threema")
    assert (first["recipient"], first["text"], first["message_id"]) == (
        "ECHOECHO",
        "Baustelle Hauptstraße",
        answer.text,
    )
    assert second["recipient"] == "41791234567"
    credits = requests.get(
        f"{sandbox.api_url('threema')}/credits",
        params={"from": "*MUSTER1", "secret": "SANDBOX-THREEMA"},
        timeout=5,
    )
    assert credits.text == "99998"


def test_threema_errors(threema_send, sandbox):
    sandbox.configure(threema={"unknown": ["41790000000", "NOTTHERE"]})
    assert threema_send(to="short").status_code == 400
    assert threema_send(to="NOTTHERE").status_code == 400
    assert threema_send(secret="falsch").status_code == 401
    assert threema_send(to=None, phone="41790000000").status_code == 404
    assert threema_send(text="x" * 3501).status_code == 413
    assert (
        threema_send(text="ä" * 1751).status_code == 413
    )  # 3500 bytes, not characters
    assert threema_send(text="ä" * 1750).status_code == 200
    sandbox.configure(threema={"no_credits": True})
    assert threema_send().status_code == 402
    sandbox.configure(threema={"no_credits": False, "error_rate": 1.0})
    assert threema_send().status_code == 500
    stats = sandbox.stats()["threema"]
    assert (stats["validation_errors"], stats["refused"], stats["injected_errors"]) == (
        3,
        4,
        1,
    )


def test_threema_rate_cap(threema_send, sandbox):
    sandbox.configure(threema={"rate_limit": 1, "burst": 1})
    assert threema_send().status_code == 200
    assert threema_send().status_code == 429
    assert sandbox.stats()["threema"]["rate_limited"] == 1


def test_threema_credits_run_out(threema_send, sandbox):
    sandbox.configure(threema={"credits": 1})
    assert threema_send().status_code == 200
    assert threema_send().status_code == 402
