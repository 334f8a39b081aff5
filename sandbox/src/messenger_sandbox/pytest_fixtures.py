"""pytest fixtures around the sandbox; import them into a test module (pytest is not a
dependency of messenger-worker, so only tests import this):

    from messenger_sandbox.pytest_fixtures import sandbox, sandbox_process, webhook_receiver  # noqa: F401

``sandbox`` is a running SandboxProcess, reset to its defaults before each test.
``webhook_receiver`` is a small HTTP server that records what is posted to it.
"""

import http.server
import threading

import pytest

from messenger_sandbox.process import SandboxProcess


@pytest.fixture(scope="session")
def sandbox_process():
    with SandboxProcess() as process:
        yield process


@pytest.fixture
def sandbox(sandbox_process):
    sandbox_process.reset()
    return sandbox_process


class WebhookReceiver:
    """Records every request as {"method", "path", "headers", "body"}; answers ``status``."""

    def __init__(self, status=200):
        self.requests = []
        self.status = status
        self.event = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                # Answers Meta's verification handshake: echo hub.challenge.
                from urllib.parse import parse_qs
                from urllib.parse import urlsplit

                query = parse_qs(urlsplit(self.path).query)
                receiver.requests.append({
                    "method": "GET",
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": b"",
                })
                body = (query.get("hub.challenge") or [""])[0].encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                receiver.requests.append({
                    "method": "POST",
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                })
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                receiver.event.set()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )
        self.thread.start()

    def wait(self, count=1, timeout=5.0):
        """Wait until ``count`` requests arrived; returns them."""
        import time

        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            self.event.wait(0.05)
            self.event.clear()
        return self.requests

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
