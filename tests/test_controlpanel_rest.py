"""``@controlpanels/messenger`` through plone.restapi, per role."""

import json

import pytest
import requests
import transaction

from collective.messenger.settings.secrets import SecretStore
from conftest import PASSWORD

MASK = "********"


@pytest.fixture
def rest(live_site, acceptance):
    SecretStore(acceptance["portal"]).set("telegram_bot_token", "123:TOPSECRET")
    transaction.commit()
    base = f"{live_site}/@controlpanels/messenger"

    def call(method, user=None, **body):
        return requests.request(
            method,
            base,
            auth=(user, PASSWORD) if user else None,
            headers={"Accept": "application/json", "Content-Type": "application/json"},
            timeout=30,
            **body,
        )

    return call


def test_manager_sees_secret(rest):
    response = rest("GET", "manager")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["telegram_bot_token"] == "123:TOPSECRET"
    assert data["topics"][0].startswith("baustellen-verkehr")


def test_site_administrator_sees_masked_secret(rest):
    response = rest("GET", "siteadmin")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["telegram_bot_token"] == MASK
    assert data["threema_api_secret"] == ""
    assert "TOPSECRET" not in response.text
    assert data["telegram_rate"] == 30.0
    assert "telegram" in [f["id"] for f in response.json()["schema"]["fieldsets"]]


@pytest.mark.parametrize("user", ["editor", "reviewer", "member", None])
def test_others_get_no_settings(rest, user):
    response = rest("GET", user)
    assert response.status_code in (401, 403)
    assert "TOPSECRET" not in response.text
    assert "telegram_bot_token" not in response.text


def test_patch_updates_and_publishes(rest, plone_redis):
    from messenger_worker import keys

    response = rest("PATCH", "siteadmin", json={"telegram_rate": 12.0, "telegram_enabled": True})
    assert response.status_code == 204, response.text
    data = rest("GET", "manager").json()["data"]
    assert data["telegram_rate"] == 12.0
    document = json.loads(plone_redis.hget(keys.SETTINGS_KEY, "json"))
    assert document["channels"]["telegram"]["rate"] == 12.0
    assert document["channels"]["telegram"]["enabled"] is True


@pytest.mark.parametrize("sent", [MASK, "", None])
def test_patch_with_masked_or_empty_secret_keeps_it(rest, sent):
    response = rest("PATCH", "siteadmin", json={"telegram_bot_token": sent, "telegram_rate": 9.0})
    assert response.status_code == 204, response.text
    assert rest("GET", "manager").json()["data"]["telegram_bot_token"] == "123:TOPSECRET"


def test_patch_sets_new_secret(rest):
    response = rest("PATCH", "siteadmin", json={"threema_api_secret": "new-secret"})
    assert response.status_code == 204
    assert rest("GET", "manager").json()["data"]["threema_api_secret"] == "new-secret"
    assert rest("GET", "siteadmin").json()["data"]["threema_api_secret"] == MASK


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"topics": ["a | A", "a | B"]}, "topics", '"a" is used more than once'),
        ({"template_news": "{title} {autor}"}, "template_news", "Unknown placeholder {autor}"),
        ({"telegram_rate": "fast"}, "telegram_rate", ""),
        ({"no_such_setting": 1}, "no_such_setting", 'no setting called "no_such_setting"'),
    ],
)
def test_patch_validation_errors_are_400(rest, body, field, message):
    before = rest("GET", "manager").json()["data"]
    response = rest("PATCH", "siteadmin", json=body)
    assert response.status_code == 400, response.text
    errors = json.loads(response.json()["message"])
    assert [error["field"] for error in errors] == [field]
    assert message in errors[0]["message"]
    assert rest("GET", "manager").json()["data"] == before


@pytest.mark.parametrize("body", [["telegram_rate", 3], "{not json"])
def test_patch_not_an_object_is_400(rest, body):
    if isinstance(body, str):
        response = rest("PATCH", "siteadmin", data=body)
    else:
        response = rest("PATCH", "siteadmin", json=body)
    assert response.status_code == 400
    assert "JSON object" in response.json()["message"]


def test_editor_cannot_patch(rest):
    response = rest("PATCH", "editor", json={"telegram_rate": 1.0})
    assert response.status_code in (401, 403)
    assert rest("GET", "manager").json()["data"]["telegram_rate"] == 30.0


def test_listed_in_controlpanels(rest, live_site):
    response = requests.get(
        f"{live_site}/@controlpanels",
        auth=("siteadmin", PASSWORD), headers={"Accept": "application/json"}, timeout=30,
    )
    assert "messenger" in [p["@id"].rsplit("/", 1)[-1] for p in response.json()]
