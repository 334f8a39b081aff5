"""The Signal channel against the sandbox's signal-cli-rest-api, over real HTTP.

Post images come from a small local web server standing in for the Plone site.
"""

import base64
import http.server
import threading

import pytest
import requests

from messenger_worker.channels import channel_class
from messenger_worker.channels import signal as signal_channel
from messenger_worker.payload import Post
from messenger_worker.payload import Recipient

NUMBER = "+4915112345678"
# The smallest valid PNG: one transparent pixel.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


class ImageSite:
    """Serves /bild.png, /gross.png (over the size limit) and /seite.html; counts requests."""

    def __init__(self):
        self.requests = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                site.requests.append(self.path)
                if self.path == "/bild.png":
                    body, kind = PIXEL, "image/png"
                elif self.path == "/gross.png":
                    body, kind = (
                        b"\0" * (signal_channel.MAX_IMAGE_BYTES + 1),
                        "image/png",
                    )
                elif self.path == "/seite.html":
                    body, kind = b"<html></html>", "text/html"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def image_site():
    site = ImageSite()
    yield site
    site.close()


@pytest.fixture
def signal(sandbox):
    with requests.Session() as session:
        yield channel_class("signal")(
            sandbox.channel_settings("signal"), session, timeout=(2, 2)
        )


def make_post(**changes):
    values = dict(
        id="p1",
        content_uid="uid-1",
        kind="news",
        title="Wahl *2026*: Ergebnisse",
        url="https://www.musterstadt.de/aktuelles/wahl",
        teaser="Alle ~300~ Stimmbezirke ausgezählt.",
    )
    values.update(changes)
    return Post(**values)


def to(address=NUMBER):
    return Recipient("s1", "signal", address)


def test_sent_as_styled_text_with_bold_title(sandbox, signal):
    outcome = signal.send(make_post(), to())
    assert outcome.kind == "sent", outcome.reason
    [message] = sandbox.messages(channel="signal", recipient=NUMBER)
    assert message["message_id"] == outcome.message_id
    assert message["text_mode"] == "styled"
    assert message["text"] == (
        "**Wahl \\*2026\\*: Ergebnisse**\n\nAlle \\~300\\~ Stimmbezirke ausgezählt.\n\n"
        "https://www.musterstadt.de/aktuelles/wahl"
    )


def test_long_text_is_cut_to_2000_bytes_keeping_the_link(sandbox, signal):
    assert (
        signal.send(make_post(teaser="Größere Umbauten am Rathaus. " * 200), to()).kind
        == "sent"
    )
    [message] = sandbox.messages(channel="signal", recipient=NUMBER)
    visible = message["text"].replace("\\", "").replace("**", "")
    assert 1900 < len(visible.encode()) <= 2000
    assert message["text"].endswith(
        "Rathaus.…\n\nhttps://www.musterstadt.de/aktuelles/wahl"
    )


def test_image_is_attached_and_downloaded_once_per_post(sandbox, signal, image_site):
    post = make_post(image_url=f"{image_site.url}/bild.png")
    before = len(image_site.requests)
    for number in (NUMBER, "+4915100000001", "+4915100000002"):
        assert signal.send(post, to(number)).kind == "sent"
    assert len(image_site.requests) - before == 1
    [message] = sandbox.messages(channel="signal", recipient=NUMBER)
    assert message["kind"] == "photo"
    assert (
        message["image"] == "data:image/png;base64," + base64.b64encode(PIXEL).decode()
    )


@pytest.mark.parametrize("path", ["/gross.png", "/seite.html", "/fehlt.png"])
def test_message_goes_out_without_an_unusable_image(sandbox, signal, image_site, path):
    outcome = signal.send(make_post(image_url=image_site.url + path), to())
    assert outcome.kind == "sent", outcome.reason
    [message] = sandbox.messages(channel="signal", recipient=NUMBER)
    assert message["kind"] == "text"


@pytest.mark.parametrize("style", ["challenge", "legacy"])
def test_rate_limit_waits_at_least_a_minute_for_every_worker(sandbox, signal, style):
    sandbox.configure(
        signal={"rate_limit": 0.01, "burst": 1, "rate_limit_style": style}
    )
    assert signal.send(make_post(), to()).kind == "sent"
    outcome = signal.send(make_post(), to("+4915100000001"))
    assert outcome.kind == "retry"
    assert outcome.retry_after >= 60
    assert outcome.pause_bucket is True


@pytest.mark.parametrize("listing", ["unknown", "deactivated"])
def test_unregistered_numbers_are_gone(sandbox, signal, listing):
    sandbox.configure(signal={listing: [NUMBER]})
    outcome = signal.send(make_post(), to())
    assert outcome.kind == "gone"
    assert "not registered with Signal" in outcome.reason


def test_invalid_number_fails(signal):
    outcome = signal.send(make_post(), to("0151 kaputt"))
    assert outcome.kind == "failed"
    assert "Invalid number" in outcome.reason


def test_unregistered_sender_pauses_the_channel(sandbox, signal):
    sandbox.configure(signal={"bad_token": True})
    outcome = signal.send(make_post(), to())
    assert outcome.kind == "pause"
    assert signal.settings["sender_number"] in outcome.reason


def test_server_errors_are_retried_with_back_off(sandbox, signal):
    sandbox.configure(signal={"error_rate": 1.0})
    outcome = signal.send(make_post(), to())
    assert outcome.kind == "retry"
    assert outcome.retry_after is None


def test_timeout_is_retried_with_back_off(sandbox):
    sandbox.configure(signal={"latency_ms": 1500})
    with requests.Session() as session:
        channel = channel_class("signal")(
            sandbox.channel_settings("signal"), session, timeout=(1, 0.5)
        )
        outcome = channel.send(make_post(), to())
    assert outcome.kind == "retry"
    assert outcome.retry_after is None


def test_check_reports_the_api_and_the_sender(signal):
    result = signal.check()
    assert result.ok is True
    assert "json-rpc" in result.detail
    assert signal.settings["sender_number"] in result.detail


def test_check_notices_an_unregistered_sender(sandbox, signal):
    sandbox.configure(signal={"bad_token": True})
    result = signal.check()
    assert result.ok is False
    assert "not one of its registered numbers" in result.detail


def test_account_is_the_sender_number(signal):
    assert signal.account() == signal.settings["sender_number"]
