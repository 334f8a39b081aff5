"""Shared by the REST tests: a configured live site, HTTP calls, reading the store and queued codes."""

import re

import pytest
import requests
import transaction
from conftest import PASSWORD

CHANNEL_VALUES = {
    "telegram": {
        "bot_username": "musterstadt_bot",
        "bot_token": "123456:TELEGRAM-TOKEN",
    },
    "whatsapp": {
        "phone_number_id": "1234567890",
        "business_number": "+49 30 1234567",
        "access_token": "WHATSAPP-TOKEN",
        "template_name": "musterstadt_post",
    },
    "signal": {"api_url": "http://127.0.0.1:9", "sender_number": "+4915100000001"},
    "threema": {"gateway_id": "*MUSTER1", "api_secret": "THREEMA-SECRET"},
}
TOPICS = ["baustellen-verkehr", "veranstaltungen", "rathaus-aktuell", "warnungen"]
PRIVACY_TEXT = "Wir speichern Ihre Nummer nur für diese Nachrichten."
# Mobile numbers that phonenumbers accepts as valid German mobiles.
SIGNAL_NUMBER = "+4915112345689"
THREEMA_NUMBER = "+4917612345678"


def configure(portal, channels=tuple(CHANNEL_VALUES)):
    """Offer ``channels`` (with everything they need) and a privacy text; commit."""
    from collective.messenger.settings.access import MessengerSettings

    settings = MessengerSettings(portal)
    for channel in channels:
        for name, value in CHANNEL_VALUES[channel].items():
            setattr(settings, f"{channel}_{name}", value)
        setattr(settings, f"{channel}_enabled", True)
    settings.privacy_text = PRIVACY_TEXT
    settings.privacy_url = "/datenschutz"
    transaction.commit()


class Rest:
    """JSON calls against the live site, optionally with basic auth."""

    def __init__(self, site_url, portal):
        self.site_url = site_url
        self.portal = portal

    def url(self, path):
        return path if path.startswith("http") else f"{self.site_url}/{path}"

    def call(self, method, path, json=None, user=None, headers=None, **options):
        all_headers = {"Accept": "application/json"}
        if json is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        return requests.request(
            method,
            self.url(path),
            json=json,
            headers=all_headers,
            auth=(user, PASSWORD) if user else None,
            timeout=30,
            **options,
        )

    def signup(
        self, channel="telegram", topics=("baustellen-verkehr",), user=None, **fields
    ):
        body = {"topics": list(topics), "channel": channel, "consent": True, **fields}
        return self.call("POST", "@messenger-subscriptions", json=body, user=user)

    def store(self):
        """The store as the server committed it (a new transaction sees its commits)."""
        from collective.messenger.subscribers import get_store

        transaction.begin()
        return get_store(self.portal)


@pytest.fixture(name="rest")
def rest_fixture(live_site, acceptance):
    """The live site with every channel offered; import ``rest_fixture`` to use ``rest``."""
    configure(acceptance["portal"])
    return Rest(live_site, acceptance["portal"])


def queued_code(redis_client, subscriber_id):
    """The codes in the replies queued for ``subscriber_id`` (the worker keeps their text in a
    short-lived value beside the job, see ``reply_texts``)."""
    from reply_texts import queued_replies

    return [
        re.search(r"\b(\d{6})\b", text).group(1)
        for reply_id, text in queued_replies(redis_client).items()
        if reply_id.startswith(f"code-{subscriber_id}-")
    ]


def pending_subscriber(rest, token):
    return rest.store().by_confirm_token(token)


def active_signal_subscription(
    rest,
    plone_redis,
    number=SIGNAL_NUMBER,
    channel="signal",
    topics=("baustellen-verkehr",),
    user=None,
):
    """Sign up and confirm with the queued code; returns the confirm answer."""
    response = rest.signup(channel, topics, phone=number, user=user)
    assert response.status_code == 201, response.text
    step = response.json()
    subscriber = pending_subscriber(rest, step["token"])
    (code,) = queued_code(plone_redis, subscriber.id)
    answer = rest.call(
        "POST",
        "@messenger-subscriptions/confirm",
        json={"token": step["token"], "code": code},
        user=user,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()
