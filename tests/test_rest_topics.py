"""``GET @messenger-topics``: what a headless signup form needs, for anyone."""

import pytest
import requests
import transaction
from rest_support import configure
from rest_support import PRIVACY_TEXT
from rest_support import Rest
from rest_support import rest_fixture  # noqa: F401  (the "rest" fixture)
from rest_support import TOPICS


def test_anonymous_gets_topics_channels_and_privacy(rest):
    response = rest.call("GET", "@messenger-topics")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    data = response.json()
    assert data["@id"] == f"{rest.site_url}/@messenger-topics"
    assert [topic["id"] for topic in data["topics"]] == TOPICS
    assert data["topics"][0] == {
        "id": "baustellen-verkehr",
        "title": "Baustellen & Verkehr",
        "description": "Baustellen, Straßensperrungen und Umleitungen",
    }
    assert data["channels"] == [
        {"id": "telegram", "title": "Telegram", "needs": "link"},
        {"id": "whatsapp", "title": "WhatsApp", "needs": "link"},
        {"id": "signal", "title": "Signal", "needs": "phone"},
        {"id": "threema", "title": "Threema", "needs": "phone"},
    ]
    assert data["privacy"]["text"] == PRIVACY_TEXT
    assert data["privacy"]["url"] == "/datenschutz"
    assert len(data["privacy"]["version"]) == 12
    assert data["phone_region"] == "DE"


def test_only_enabled_and_configured_channels(live_site, acceptance):
    portal = acceptance["portal"]
    configure(portal, channels=("telegram", "signal"))
    from collective.messenger.settings.access import MessengerSettings

    MessengerSettings(
        portal
    ).signal_sender_number = None  # switched on, but cannot send
    transaction.commit()
    data = Rest(live_site, portal).call("GET", "@messenger-topics").json()
    assert [channel["id"] for channel in data["channels"]] == ["telegram"]


def test_secrets_never_in_the_answer(rest):
    text = rest.call("GET", "@messenger-topics").text
    for secret in (
        "TELEGRAM-TOKEN",
        "WHATSAPP-TOKEN",
        "THREEMA-SECRET",
        "+4915100000001",
    ):
        assert secret not in text


@pytest.mark.parametrize("user", [None, "member", "editor", "siteadmin"])
def test_same_answer_for_every_role(rest, user):
    anonymous = rest.call("GET", "@messenger-topics").json()
    assert rest.call("GET", "@messenger-topics", user=user).json() == anonymous


def test_through_the_api_namespace(rest):
    response = requests.get(f"{rest.site_url}/++api++/@messenger-topics", timeout=30)
    assert response.status_code == 200
    assert [topic["id"] for topic in response.json()["topics"]] == TOPICS


def test_unknown_sub_path_is_json_404(rest):
    response = rest.call("GET", "@messenger-topics/other")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "NotFound"
