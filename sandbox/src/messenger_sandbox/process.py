"""The sandbox in a subprocess, for tests, benchmarks and the demo.

    with SandboxProcess() as sandbox:
        settings = sandbox.channel_settings("telegram")   # api_url, bot_token, ...
        sandbox.configure(telegram={"blocked": ["1002"]})
        ...                                                # let the worker send
        sandbox.messages(channel="telegram", recipient="1001")

A subprocess, not a thread: the sandbox then has its own interpreter (and GIL), so it does
not slow down the worker it is measured against.
"""

import subprocess
import sys
import tempfile
import time

import requests

from messenger_sandbox import worker_settings
from messenger_worker.testing import free_port


class SandboxError(RuntimeError):
    pass


class SandboxProcess:
    def __init__(
        self,
        port=None,
        host="127.0.0.1",
        config=None,
        config_file=None,
        log_level="WARNING",
    ):
        self.host = host
        self.port = port
        self.initial_config = config
        self.config_file = config_file
        self.log_level = log_level
        self.process = None
        self.log = None
        self.session = requests.Session()

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def api_url(self, channel):
        """The ``api_url`` channel setting that points a worker at this sandbox."""
        return f"{self.url}/{channel}"

    # -- life cycle -------------------------------------------------------------------------

    def start(self, timeout=10.0):
        attempts = 1 if self.port else 3  # a free port can be taken before we bind it
        for attempt in range(attempts):
            port = self.port or free_port()
            command = [
                sys.executable,
                "-m",
                "messenger_sandbox",
                "--host",
                self.host,
                "--port",
                str(port),
                "--log-level",
                self.log_level,
            ]
            if self.config_file:
                command += ["--config", self.config_file]
            # A file, not a pipe: nobody reads a pipe while tests run, and a full one would block the sandbox.
            self.log = tempfile.TemporaryFile()
            self.process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=self.log
            )
            self.port = port
            if self._wait_until_ready(timeout):
                if self.initial_config:
                    self.configure(**self.initial_config)
                return self
            error = self._stop_process()
            if attempt == attempts - 1:
                raise SandboxError(
                    f"The sandbox did not start on {self.host}:{port}: {error}"
                )
            self.port = None
        return self

    def _wait_until_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if (
                    self.session.get(
                        f"{self.url}/_sandbox/health", timeout=1
                    ).status_code
                    == 200
                ):
                    return True
            except requests.ConnectionError:
                pass
            time.sleep(0.02)
        return False

    def _stop_process(self):
        if self.process is None:
            return ""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.log.seek(0)
        error = self.log.read().decode("utf-8", "replace").strip()
        self.log.close()
        return error[-2000:]

    def stop(self):
        self._stop_process()
        self.session.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    # -- control API --------------------------------------------------------------------------

    def _call(self, method, path, **kwargs):
        response = self.session.request(
            method, f"{self.url}/_sandbox/{path}", timeout=30, **kwargs
        )
        if response.status_code >= 400:
            raise SandboxError(
                f"{method} /_sandbox/{path}: {response.status_code} {response.text}"
            )
        return response.json()

    def channel_settings(self, channel, **overrides):
        """This channel's settings for a worker (settings document shape), with ``overrides``."""
        return dict(
            worker_settings.channel_settings(channel, self.url, self.config()),
            **overrides,
        )

    def settings_document(self):
        """A whole settings document (schema 1) with every channel pointing here."""
        return worker_settings.settings_document(self.url, self.config())

    def config(self):
        return self._call("GET", "config")

    def configure(self, **changes):
        """Merge ``changes`` (per channel: ``telegram={"rate_limit": 5}``) into the config."""
        return self._call("POST", "config", json=changes)

    def reset(self, keep_config=False):
        """Forget messages, phones and counters; back to the default config unless ``keep_config``."""
        return self._call("POST", "reset", json={"keep_config": keep_config})

    def messages(self, channel=None, recipient=None, direction="out", limit=None):
        params = {
            "channel": channel,
            "recipient": recipient,
            "direction": direction,
            "limit": limit,
        }
        return self._call(
            "GET", "messages", params={k: v for k, v in params.items() if v is not None}
        )

    def stats(self):
        return self._call("GET", "stats")

    def citizen(
        self, channel, address, text=None, photo=None, action=None, name=None, ago=None
    ):
        """A citizen writes (or blocks); returns the message and the webhook call's result."""
        data = {
            "channel": channel,
            "address": str(address),
            "text": text,
            "photo": photo,
            "action": action,
            "name": name,
            "ago": ago,
        }
        return self._call(
            "POST", "citizen", json={k: v for k, v in data.items() if v is not None}
        )

    def verify_whatsapp_webhook(self):
        """Run Meta's GET handshake against the configured WhatsApp webhook_url; {"verified", "status", ...}."""
        return self._call("POST", "whatsapp/verify-webhook")
