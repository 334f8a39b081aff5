"""Outbound webhooks (citizens' messages, delivery statuses), sent from a thread pool.

``requests`` blocks, so posts run in an executor; the event loop keeps answering the
platform APIs meanwhile. Each thread keeps its own Session (Sessions are not thread-safe).
"""

import asyncio
import hashlib
import hmac
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

log = logging.getLogger("messenger_sandbox")
TIMEOUT = (3.05, 10)


def encode(payload):
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )


def whatsapp_signature(app_secret, body):
    """``X-Hub-Signature-256`` as Meta sends it: HMAC-SHA256 of the raw body with the app secret."""
    return (
        "sha256="
        + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    )


class WebhookSender:
    def __init__(self, workers=8):
        self.executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="sandbox-webhook"
        )
        self.local = threading.local()

    def _post(self, url, body, headers):
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        headers = dict(
            {"Content-Type": "application/json", "User-Agent": "messenger-sandbox"},
            **headers,
        )
        try:
            response = session.post(url, data=body, headers=headers, timeout=TIMEOUT)
        except requests.RequestException as error:
            log.warning("Webhook to %s failed: %s", url, error)
            return {"url": url, "status": None, "error": str(error)}
        return {"url": url, "status": response.status_code, "body": response.text[:500]}

    def _get(self, url, params):
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        try:
            response = session.get(
                url,
                params=params,
                timeout=TIMEOUT,
                headers={"User-Agent": "messenger-sandbox"},
            )
        except requests.RequestException as error:
            return {"url": url, "status": None, "error": str(error)}
        return {"url": url, "status": response.status_code, "body": response.text[:500]}

    async def get(self, url, params):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._get, url, params)

    async def post(self, url, body, headers=None):
        """Post and wait (without blocking the loop); returns {"url", "status", "body"|"error"}."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.executor, self._post, url, body, headers or {}
        )

    def post_later(self, delay, posts):
        """Post ``[(url, body, headers), ...]`` one after the other in ``delay`` seconds; forget them."""
        loop = asyncio.get_running_loop()
        loop.call_later(delay, self.executor.submit, self._post_all, posts)

    def _post_all(self, posts):
        for url, body, headers in posts:
            self._post(url, body, headers)

    def shutdown(self):
        self.executor.shutdown(wait=False, cancel_futures=True)
