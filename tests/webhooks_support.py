"""Shared by the webhook tests: a site configured like the sandbox, signed calls, snapshots."""

import copy
import hashlib
import hmac
import itertools
import json
import os

import requests
import transaction

from collective.messenger.demo.sandbox import SANDBOX_SIGNAL_WEBHOOK_SECRET
from messenger_sandbox import config as sandbox_config

PAYLOADS = os.path.join(os.path.dirname(__file__), "payloads")

TELEGRAM_SECRET = sandbox_config.DEFAULTS["telegram"]["webhook_secret"]
WHATSAPP_APP_SECRET = sandbox_config.DEFAULTS["whatsapp"]["app_secret"]
WHATSAPP_VERIFY_TOKEN = sandbox_config.DEFAULTS["whatsapp"]["verify_token"]
WHATSAPP_NUMBER_ID = sandbox_config.DEFAULTS["whatsapp"]["phone_number_id"]
SIGNAL_ACCOUNT = sandbox_config.DEFAULTS["signal"]["number"]
SIGNAL_SECRET = SANDBOX_SIGNAL_WEBHOOK_SECRET
SANDBOX_URL = (
    "http://127.0.0.1:9"  # nothing listens: only the webhook secrets matter here
)


def configure(
    portal, sandbox_url=SANDBOX_URL, channels=("telegram", "whatsapp", "signal")
):
    """Channels as the sandbox knows them (same secrets and ids), switched on; commit."""
    from collective.messenger.demo.sandbox import use_sandbox

    use_sandbox(sandbox_url, channels, site=portal)
    transaction.commit()


def payload(name):
    """A JSON fixture from tests/payloads (examples from the platforms' documentation)."""
    with open(os.path.join(PAYLOADS, name), encoding="utf-8") as file:
        return json.load(file)


def encode(data):
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def signature(body, secret=WHATSAPP_APP_SECRET):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


_deliveries = itertools.count(1_000_000)


def new_delivery(platform, data):
    """A copy of ``data`` as a new delivery: every message or update gets a name of its own
    (update_id, message id, timestamp), as the platforms give one to each; the site ignores
    a name it saw in the last 24 hours (a replay)."""
    data = copy.deepcopy(data)
    if not isinstance(data, dict):
        return data
    if platform == "telegram" and isinstance(data.get("update_id"), int):
        data["update_id"] = next(_deliveries)
    elif platform == "whatsapp":
        for entry in data.get("entry") or []:
            for change in (
                (entry.get("changes") or []) if isinstance(entry, dict) else []
            ):
                value = change.get("value") if isinstance(change, dict) else None
                for message in (
                    (value.get("messages") or []) if isinstance(value, dict) else []
                ):
                    if isinstance(message, dict) and isinstance(message.get("id"), str):
                        message["id"] = f"wamid.test-{next(_deliveries)}"
    elif platform == "signal":
        received = data.get("params") if isinstance(data.get("params"), dict) else data
        envelope = received.get("envelope")
        if isinstance(envelope, dict) and isinstance(envelope.get("timestamp"), int):
            envelope["timestamp"] = timestamp = envelope["timestamp"] + next(
                _deliveries
            )
            if isinstance(envelope.get("dataMessage"), dict):
                envelope["dataMessage"]["timestamp"] = timestamp
    return data


class Hooks:
    """Calls the webhooks of a live site the way the platforms do (no Accept: JSON).

    Each call is a new delivery (``new_delivery``); ``replay=True`` sends the data as it is.
    """

    def __init__(self, site_url, portal):
        self.site_url = site_url
        self.portal = portal
        self.session = requests.Session()

    def url(self, path):
        return f"{self.site_url}/@messenger-webhook/{path}"

    def post(self, path, body, headers=None, content_type="application/json"):
        if not isinstance(body, bytes):
            body = encode(body)
        all_headers = {"Content-Type": content_type} if content_type else {}
        all_headers.update(headers or {})
        return self.session.post(
            self.url(path), data=body, headers=all_headers, timeout=30
        )

    def telegram(self, update, secret=TELEGRAM_SECRET, replay=False, **options):
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        return self.post(
            "telegram",
            update if replay else new_delivery("telegram", update),
            headers,
            **options,
        )

    def whatsapp(
        self, data, secret=WHATSAPP_APP_SECRET, sign=None, replay=False, **options
    ):
        data = data if replay else new_delivery("whatsapp", data)
        body = data if isinstance(data, bytes) else encode(data)
        headers = {
            "X-Hub-Signature-256": sign if sign is not None else signature(body, secret)
        }
        return self.post("whatsapp", body, headers, **options)

    def signal(self, data, secret=SIGNAL_SECRET, replay=False, **options):
        return self.post(
            f"signal/{secret}",
            data if replay else new_delivery("signal", data),
            **options,
        )

    def store(self):
        """The store as the server committed it (a new transaction sees its commits)."""
        from collective.messenger.subscribers import get_store

        transaction.begin()
        return get_store(self.portal)

    def pending(self, channel="telegram", topics=("baustellen-verkehr",), address=None):
        """A pending signup created through the store, committed; returns it."""
        from collective.messenger.subscribers.model import Consent

        subscriber = self.store().add_pending(
            channel,
            list(topics),
            "de",
            Consent(privacy_version="test", path="rest"),
            address=address,
        )
        transaction.commit()
        return subscriber

    def snapshot(self, redis_client):
        """Everything a webhook could change: subscriber records and Redis keys."""
        store = self.store()
        records = sorted(
            (s.id, s.state, s.address, s.topics)
            for s in store._subscribers.values()
            if hasattr(s, "state")
        )
        return {
            "counts": store.counts(),
            "records": records,
            "redis": sorted(redis_client.keys("*")),
        }


def queued_replies(redis_client):
    """[(reply_id, recipient, text)] of the reply jobs waiting on the queue, oldest first."""
    from rq import Queue
    from rq.serializers import JSONSerializer

    from messenger_worker import keys
    from messenger_worker.replies import read_content

    queue = Queue(keys.QUEUE_LOW, connection=redis_client, serializer=JSONSerializer)
    replies = []
    for job in queue.get_jobs():
        # The job carries the reply id only; recipient and text wait beside it in Redis.
        recipient, text = read_content(redis_client, job.args[0])
        replies.append((job.args[0], recipient.to_list(), text))
    return replies
