"""The sandbox's WhatsApp Cloud API, over real HTTP to the sandbox subprocess."""

import hashlib
import hmac
import json
import time

import pytest
import requests

TOKEN = "SANDBOX-WA-TOKEN"
CITIZEN = "4915112345678"


def template(
    name="musterstadt_post",
    language="de",
    body=("Stadtfest", "Sa 12 Uhr · Marktplatz"),
    image="https://www.musterstadt.de/fest.jpg",
    button="veranstaltungen/stadtfest",
):
    components = []
    if image:
        components.append({
            "type": "header",
            "parameters": [{"type": "image", "image": {"link": image}}],
        })
    components.append({
        "type": "body",
        "parameters": [{"type": "text", "text": t} for t in body],
    })
    if button is not None:
        components.append({
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": button}],
        })
    return {
        "type": "template",
        "template": {
            "name": name,
            "language": {"code": language},
            "components": components,
        },
    }


@pytest.fixture
def graph(sandbox):
    session = requests.Session()
    settings = sandbox.channel_settings("whatsapp")
    url = f"{settings['api_url']}/{settings['api_version']}/{settings['phone_number_id']}/messages"

    def send(message, to=CITIZEN, token=TOKEN):
        payload = dict(
            {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to},
            **message,
        )
        return session.post(
            url, json=payload, headers={"Authorization": f"Bearer {token}"}, timeout=5
        )

    yield send
    session.close()


def assert_error(answer, status, code):
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    assert error["message"].startswith(f"(#{code}) ") or code == 190
    assert error["type"] == "OAuthException"
    assert error["fbtrace_id"]
    return error


def test_settings_point_a_worker_at_the_sandbox(sandbox):
    settings = sandbox.channel_settings("whatsapp")
    assert settings["api_url"] == sandbox.url + "/whatsapp"
    assert (
        settings["phone_number_id"],
        settings["access_token"],
        settings["app_secret"],
    ) == ("100200300", TOKEN, "SANDBOX-APP-SECRET")
    assert (settings["template_name"], settings["template_language"]) == (
        "musterstadt_post_text",
        "de",
    )
    assert (
        settings["image_template_name"] == "musterstadt_post"
    )  # the one with an image header
    assert settings["business_number"] == "+4930123456" and settings["verify_token"]


def test_template_message_is_accepted_and_rendered(graph, sandbox):
    answer = graph(template(), to="+49 151 12345678")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "+49 151 12345678", "wa_id": CITIZEN}]
    [message] = body["messages"]
    assert (
        message["id"].startswith("wamid.HBg")
        and message["message_status"] == "accepted"
    )
    [record] = sandbox.messages(channel="whatsapp", recipient=CITIZEN)
    assert record["kind"] == "template"
    assert record["text"] == "Neu aus Musterstadt: Stadtfest\n\nSa 12 Uhr · Marktplatz"
    assert record["image"] == "https://www.musterstadt.de/fest.jpg"
    assert record["buttons"] == [
        {
            "text": "Weiterlesen",
            "url": "https://www.musterstadt.de/veranstaltungen/stadtfest",
        }
    ]
    assert record["message_id"] == message["id"]


@pytest.mark.parametrize(
    "message, status, code, details",
    [
        (
            template(name="unbekannt"),
            404,
            132001,
            "template name (unbekannt) does not exist in de",
        ),
        (
            template(language="en"),
            404,
            132001,
            "template name (musterstadt_post) does not exist in en",
        ),
        (
            template(body=("nur eins",)),
            400,
            132000,
            "body: number of localizable_params (1) does not match the expected number of params (2)",
        ),
        (
            template(button=None),
            400,
            132000,
            "button: number of localizable_params (0) does not match the expected number of params (1)",
        ),
        (
            template(image=None),
            400,
            132012,
            "header: Format mismatch, expected IMAGE, received UNKNOWN",
        ),
        (
            template(body=("Titel", " ")),
            400,
            131008,
            "body: text parameter is missing or empty",
        ),
    ],
)
def test_template_validation(graph, sandbox, message, status, code, details):
    error = assert_error(graph(message), status, code)
    assert error["error_data"] == {"messaging_product": "whatsapp", "details": details}
    assert sandbox.messages(channel="whatsapp") == []


def test_free_text_only_in_the_24_hour_window(graph, sandbox):
    text = {
        "type": "text",
        "text": {"preview_url": False, "body": "Danke für Ihre Nachricht"},
    }
    assert_error(graph(text), 400, 131047)
    sandbox.citizen(
        "whatsapp", CITIZEN, text="Hallo", ago=25 * 3600
    )  # yesterday: still closed
    assert_error(graph(text), 400, 131047)
    sandbox.citizen("whatsapp", CITIZEN, text="START abc")
    answer = graph(text)
    assert answer.status_code == 200, answer.text
    assert (
        sandbox.messages(channel="whatsapp")[-1]["text"] == "Danke für Ihre Nachricht"
    )
    sandbox.configure(whatsapp={"window_hours": 0.0001})
    time.sleep(0.5)
    assert_error(graph(text), 400, 131047)


def test_bad_token_and_wrong_phone_number_id(graph, sandbox):
    error = assert_error(graph(template(), token="falsch"), 401, 190)
    assert "access token" in error["message"]
    sandbox.configure(whatsapp={"bad_token": True})
    assert_error(graph(template()), 401, 190)
    sandbox.configure(whatsapp={"bad_token": False})
    answer = requests.post(
        f"{sandbox.url}/whatsapp/v23.0/999/messages",
        json={},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert answer.status_code == 400 and answer.json()["error"]["error_subcode"] == 33


def test_recipients_the_platform_refuses(graph, sandbox):
    sandbox.configure(
        whatsapp={
            "undeliverable": ["+49 151 0000001"],
            "marketing_opt_out": ["491510000002"],
        }
    )
    assert_error(graph(template(), to="491510000001"), 400, 131026)
    assert_error(graph(template(), to="491510000002"), 400, 131050)
    assert graph(template(), to="491510000003").status_code == 200
    assert sandbox.stats()["whatsapp"]["refused"] == 2


def test_rate_cap_and_pair_rate_limit(graph, sandbox):
    sandbox.configure(whatsapp={"rate_limit": 1, "burst": 2})
    assert graph(template(), to="491510000001").status_code == 200
    assert graph(template(), to="491510000002").status_code == 200
    error = assert_error(graph(template(), to="491510000003"), 400, 130429)
    assert (
        error["error_data"]["details"]
        == "Cloud API message throughput has been reached."
    )
    sandbox.configure(whatsapp={"rate_limit": None, "pair_interval": 60})
    assert_error(graph(template(), to="491510000001"), 400, 131056)
    assert graph(template(), to="491510000009").status_code == 200
    assert sandbox.stats()["whatsapp"]["rate_limited"] == 2


def test_injected_server_error(graph, sandbox):
    sandbox.configure(whatsapp={"error_rate": 1.0})
    assert_error(graph(template()), 500, 131000)
    assert sandbox.stats()["whatsapp"]["injected_errors"] == 1


def test_phone_number_lookup(sandbox):
    answer = requests.get(
        f"{sandbox.url}/whatsapp/v23.0/100200300",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert answer.json() == {
        "verified_name": "Stadt Musterstadt",
        "code_verification_status": "VERIFIED",
        "display_phone_number": "+49 30 123456",
        "quality_rating": "GREEN",
        "platform_type": "CLOUD_API",
        "throughput": {"level": "STANDARD"},
        "id": "100200300",
    }
    fields = requests.get(
        f"{sandbox.url}/whatsapp/v23.0/100200300?fields=verified_name&access_token={TOKEN}",
        timeout=5,
    )
    assert fields.json() == {"verified_name": "Stadt Musterstadt", "id": "100200300"}


def signature_ok(request, secret="SANDBOX-APP-SECRET"):
    expected = (
        "sha256="
        + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    )
    return hmac.compare_digest(request["headers"]["x-hub-signature-256"], expected)


def test_inbound_message_is_signed_like_meta(sandbox, webhook_receiver):
    sandbox.configure(whatsapp={"webhook_url": webhook_receiver.url})
    answer = sandbox.citizen(
        "whatsapp", "+49 151 12345678", text="START tok123", name="Erika"
    )
    assert answer["webhook"]["status"] == 200
    [request] = webhook_receiver.wait(1)
    assert signature_ok(request)
    assert not signature_ok(request, secret="other")
    payload = json.loads(request["body"])
    assert payload["object"] == "whatsapp_business_account"
    [change] = payload["entry"][0]["changes"]
    assert change["field"] == "messages"
    value = change["value"]
    assert value["metadata"] == {
        "display_phone_number": "4930123456",
        "phone_number_id": "100200300",
    }
    assert value["contacts"] == [{"profile": {"name": "Erika"}, "wa_id": CITIZEN}]
    [message] = value["messages"]
    assert (message["from"], message["type"], message["text"]) == (
        CITIZEN,
        "text",
        {"body": "START tok123"},
    )
    image = sandbox.citizen(
        "whatsapp", CITIZEN, photo="https://example.org/schlagloch.jpg", text="Hier!"
    )
    assert (
        image["payload"]["entry"][0]["changes"][0]["value"]["messages"][0]["image"][
            "caption"
        ]
        == "Hier!"
    )


def test_status_webhooks_after_accepted_messages(graph, sandbox, webhook_receiver):
    sandbox.configure(
        whatsapp={
            "webhook_url": webhook_receiver.url,
            "status_webhooks": True,
            "read_receipts": True,
        }
    )
    wamid = graph(template()).json()["messages"][0]["id"]
    requests_seen = webhook_receiver.wait(3)
    statuses = [
        json.loads(r["body"])["entry"][0]["changes"][0]["value"]["statuses"][0]
        for r in requests_seen
    ]
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert {s["id"] for s in statuses} == {wamid}
    assert all(signature_ok(r) for r in requests_seen)


def test_phone_page_shows_template_and_citizen(graph, sandbox):
    graph(template())
    sandbox.citizen("whatsapp", CITIZEN, text="STOP")
    page = requests.get(
        f"{sandbox.url}/_sandbox/phone/whatsapp/{CITIZEN}", timeout=5
    ).text
    assert "Neu aus Musterstadt: Stadtfest" in page
    assert "https://www.musterstadt.de/veranstaltungen/stadtfest" in page
    assert "Abmelden: STOP" in page and ">STOP<" in page


def test_webhook_verification_handshake(sandbox, webhook_receiver):
    sandbox.configure(whatsapp={"webhook_url": webhook_receiver.url})
    result = sandbox.verify_whatsapp_webhook()
    assert result["verified"] is True and result["status"] == 200
    [request] = webhook_receiver.requests
    assert (
        "hub.verify_token=SANDBOX-VERIFY-TOKEN" in request["path"]
        and "hub.mode=subscribe" in request["path"]
    )
