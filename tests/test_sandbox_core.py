"""The sandbox's HTTP server, control API, phone pages and command line."""

import json
import socket

import pytest
import requests

from messenger_sandbox import config as sandbox_config
from messenger_sandbox.command import build_parser
from messenger_sandbox.worker_settings import settings_document

SEND = "/telegram/bot123456:SANDBOX-TOKEN/sendMessage"


def raw_exchange(sandbox, data, timeout=5):
    """Send raw bytes on one connection and read until the sandbox closes it."""
    with socket.create_connection(
        (sandbox.host, sandbox.port), timeout=timeout
    ) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def request_bytes(path, body, headers=""):
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{headers}\r\n"
    ).encode() + body


# -- HTTP ----------------------------------------------------------------------------------------


def test_keep_alive_and_pipelined_requests(sandbox):
    one = request_bytes(SEND, b'{"chat_id":1,"text":"a"}')
    two = request_bytes(SEND, b'{"chat_id":1,"text":"b"}', "Connection: close\r\n")
    answer = raw_exchange(sandbox, one + two)
    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert b"Connection: close" in answer
    assert [m["text"] for m in sandbox.messages(channel="telegram")] == ["a", "b"]


def test_chunked_request_body(sandbox):
    body = json.dumps({"chat_id": 7, "text": "gestückelt"}).encode()
    chunks = (
        b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:]))
        + b"0\r\n\r\n"
    )
    head = (
        f"POST {SEND} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    answer = raw_exchange(sandbox, head + chunks)
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer
    assert sandbox.messages(channel="telegram")[-1]["text"] == "gestückelt"


def test_expect_continue_and_malformed_requests(sandbox):
    body = b'{"chat_id":1,"text":"x"}'
    with socket.create_connection((sandbox.host, sandbox.port), timeout=5) as sock:
        sock.sendall(
            (
                f"POST {SEND} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
            ).encode()
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK")
    assert raw_exchange(sandbox, b"NONSENSE\r\n\r\n").startswith(
        b"HTTP/1.1 400 Bad Request"
    )
    bad_length = b"POST / HTTP/1.1\r\nContent-Length: many\r\n\r\n"
    assert raw_exchange(sandbox, bad_length).startswith(b"HTTP/1.1 400")
    gzip = b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"
    assert raw_exchange(sandbox, gzip).startswith(b"HTTP/1.1 501")


def test_unknown_paths(sandbox):
    assert requests.get(f"{sandbox.url}/nowhere", timeout=5).status_code == 404
    assert requests.get(
        f"{sandbox.url}/telegram/bot123456:SANDBOX-TOKEN/noSuchMethod", timeout=5
    ).json() == {"ok": False, "error_code": 404, "description": "Not Found"}


# -- control API ----------------------------------------------------------------------------------


def test_configure_validates_and_reset_restores(sandbox):
    config = sandbox.configure(telegram={"rate_limit": 5, "blocked": ["1"]})
    assert config["telegram"]["rate_limit"] == 5
    with pytest.raises(Exception, match="Unknown sandbox setting 'telegram.rate'"):
        sandbox.configure(telegram={"rate": 5})
    sandbox.configure(
        whatsapp={
            "templates": {
                "notfall": {
                    "languages": ["de"],
                    "body": "{{1}}",
                    "header": None,
                    "buttons": [],
                    "category": "UTILITY",
                }
            }
        }
    )
    assert set(sandbox.config()["whatsapp"]["templates"]) == {
        "musterstadt_post",
        "musterstadt_post_text",
        "notfall",
    }
    sandbox.reset(keep_config=True)
    assert sandbox.config()["telegram"]["blocked"] == ["1"]
    sandbox.reset()
    assert sandbox.config() == sandbox_config.DEFAULTS


def test_messages_filters_and_stats(sandbox):
    session = requests.Session()
    for chat in (1, 2, 1):
        session.post(
            sandbox.url + SEND, json={"chat_id": chat, "text": f"an {chat}"}, timeout=5
        )
    sandbox.citizen("telegram", 1, text="Antwort")
    assert len(sandbox.messages()) == 3
    assert [m["text"] for m in sandbox.messages(channel="telegram", recipient="1")] == [
        "an 1",
        "an 1",
    ]
    assert [m["text"] for m in sandbox.messages(direction="in")] == ["Antwort"]
    assert len(sandbox.messages(direction="all")) == 4
    assert sandbox.messages(channel="whatsapp") == []
    stats = sandbox.stats()["telegram"]
    assert stats["accepted"] == 3 and stats["last_run"]["messages"] == 3
    assert stats["last_run"]["per_second"] > 0


def test_worker_settings_document(sandbox):
    document = requests.get(f"{sandbox.url}/_sandbox/settings", timeout=5).json()
    assert document == settings_document(sandbox.url) == sandbox.settings_document()
    assert document["schema"] == 1 and set(document["channels"]) == set(
        sandbox_config.CHANNELS
    )
    single = requests.get(
        f"{sandbox.url}/_sandbox/settings?channel=threema", timeout=5
    ).json()
    assert single == sandbox.channel_settings("threema")


def test_citizen_validation(sandbox):
    answer = requests.post(
        f"{sandbox.url}/_sandbox/citizen",
        json={"channel": "fax", "address": "1"},
        timeout=5,
    )
    assert (
        answer.status_code == 400 and "channel must be one of" in answer.json()["error"]
    )
    answer = requests.post(
        f"{sandbox.url}/_sandbox/citizen",
        json={"channel": "telegram", "address": "1"},
        timeout=5,
    )
    assert answer.json() == {"error": "give text, photo or action"}
    # Without a webhook_url the message still reaches the phone.
    result = sandbox.citizen("threema", "ECHOECHO", text="Hallo")
    assert result["webhook"]["status"] is None and result["message"]["text"] == "Hallo"


# -- phone pages ----------------------------------------------------------------------------------


def test_phone_forms_play_the_citizen(sandbox, webhook_receiver):
    sandbox.configure(
        telegram={"webhook_url": webhook_receiver.url},
        whatsapp={"webhook_url": webhook_receiver.url},
    )
    browser = requests.Session()
    page = browser.post(
        f"{sandbox.url}/_sandbox/phone/telegram/4242/start",
        data={"link": "https://t.me/musterstadt_bot?start=tok-42"},
        timeout=5,
    )
    assert page.status_code == 200 and page.url.endswith(
        "/_sandbox/phone/telegram/4242"
    )
    assert "/start tok-42" in page.text
    browser.post(
        f"{sandbox.url}/_sandbox/phone/whatsapp/4915100004242/start",
        data={"link": "https://wa.me/4930123456?text=START%20tok-43"},
        timeout=5,
    )
    browser.post(
        f"{sandbox.url}/_sandbox/phone/telegram/4242/send",
        data={"text": "Hallo Rathaus"},
        timeout=5,
    )
    browser.post(f"{sandbox.url}/_sandbox/phone/telegram/4242/block", timeout=5)
    bodies = [json.loads(r["body"]) for r in webhook_receiver.wait(4)]
    assert bodies[0]["message"]["text"] == "/start tok-42"
    assert (
        bodies[1]["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"]
        == "START tok-43"
    )
    assert bodies[2]["message"]["text"] == "Hallo Rathaus"
    assert bodies[3]["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    assert (
        "blockiert"
        in browser.get(f"{sandbox.url}/_sandbox/phone/telegram/4242", timeout=5).text
    )
    assert browser.get(
        f"{sandbox.url}/_sandbox/phone/telegram/4242/count", timeout=5
    ).json() == {"count": 3}


def test_index_lists_phones_and_opens_new_ones(sandbox):
    page = requests.post(
        f"{sandbox.url}/_sandbox/phones",
        data={"channel": "signal", "address": "+4915100000077", "name": "Max"},
        timeout=5,
    )
    assert page.url.endswith("/_sandbox/phone/signal/+4915100000077")
    assert "Max" in page.text
    index = requests.get(f"{sandbox.url}/_sandbox/", timeout=5).text
    assert "Max" in index and "/_sandbox/phone/signal/+4915100000077" in index


# -- command line ---------------------------------------------------------------------------------


def test_sandbox_command_options():
    parser = build_parser()
    args = parser.parse_args(["--port", "9000", "--config", "x.json"])
    assert (args.host, args.port, args.config) == ("127.0.0.1", 9000, "x.json")
    assert parser.parse_args([]).port == 8099
    assert parser.prog == "messenger-sandbox"


def test_config_file(tmp_path):
    from messenger_sandbox.process import SandboxProcess

    path = tmp_path / "sandbox.json"
    path.write_text(json.dumps({"telegram": {"bot_username": "andere_bot"}}))
    with SandboxProcess(config_file=str(path)) as process:
        assert process.channel_settings("telegram")["bot_username"] == "andere_bot"
