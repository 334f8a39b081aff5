"""``@controlpanels/messenger`` through plone.restapi, per role."""

import json

import pytest
import requests
import transaction
from conftest import PASSWORD

from collective.messenger.settings.secrets import SecretStore

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

    response = rest(
        "PATCH", "siteadmin", json={"telegram_rate": 12.0, "telegram_enabled": True}
    )
    assert response.status_code == 204, response.text
    data = rest("GET", "manager").json()["data"]
    assert data["telegram_rate"] == 12.0
    document = json.loads(plone_redis.hget(keys.SETTINGS_KEY, "json"))
    assert document["channels"]["telegram"]["rate"] == 12.0
    assert document["channels"]["telegram"]["enabled"] is True


@pytest.mark.parametrize("sent", [MASK, "", None])
def test_patch_with_masked_or_empty_secret_keeps_it(rest, sent):
    response = rest(
        "PATCH", "siteadmin", json={"telegram_bot_token": sent, "telegram_rate": 9.0}
    )
    assert response.status_code == 204, response.text
    assert (
        rest("GET", "manager").json()["data"]["telegram_bot_token"] == "123:TOPSECRET"
    )


def test_patch_sets_new_secret(rest):
    response = rest("PATCH", "siteadmin", json={"threema_api_secret": "new-secret"})
    assert response.status_code == 204
    assert rest("GET", "manager").json()["data"]["threema_api_secret"] == "new-secret"
    assert rest("GET", "siteadmin").json()["data"]["threema_api_secret"] == MASK


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"topics": ["a | A", "a | B"]}, "topics", '"a" is used more than once'),
        (
            {"template_news": "{title} {autor}"},
            "template_news",
            "Unknown placeholder {autor}",
        ),
        ({"telegram_rate": "fast"}, "telegram_rate", ""),
        (
            {"no_such_setting": 1},
            "no_such_setting",
            'no setting called "no_such_setting"',
        ),
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
        auth=("siteadmin", PASSWORD),
        headers={"Accept": "application/json"},
        timeout=30,
    )
    assert "messenger" in [p["@id"].rsplit("/", 1)[-1] for p in response.json()]


# Only Managers decide where secrets travel (settings.destinations).


class TokenCatcher:
    """An HTTP server on this machine's non-loopback address: a Site Administrator's own
    server. Records every request (Telegram puts the bot token in the path)."""

    def __init__(self, host):
        import http.server
        import threading

        catcher = self
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                catcher.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true, "result": {"username": "evil_bot"}}')

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def outside_address():
    """This machine's address on its network interface (not loopback); connecting a UDP
    socket only picks the route, it sends nothing."""
    import socket

    for target in ("203.0.113.1", "192.0.2.1", "198.51.100.1"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.connect((target, 9))
            except OSError:
                continue
            address = sock.getsockname()[0]
            if not address.startswith("127."):
                return address
    pytest.skip(
        "this machine has no non-loopback IPv4 address to stand in for another server"
    )


@pytest.fixture
def token_catcher():
    catcher = TokenCatcher(outside_address())
    yield catcher
    catcher.close()


@pytest.fixture
def telegram_on_sandbox(rest, acceptance, sandbox):
    from collective.messenger.demo.sandbox import use_sandbox

    use_sandbox(sandbox.url, channels=("telegram",), site=acceptance["portal"])
    transaction.commit()
    return sandbox


def check_telegram_credentials():
    """``messenger-worker test-channel telegram``, as an operator runs it: it sends the
    token to the published API base URL."""
    import os
    import subprocess
    import sys

    return subprocess.run(
        [
            sys.executable,
            "-m",
            "messenger_worker.cli",
            "--redis-url",
            os.environ["MESSENGER_REDIS_URL"],
            "test-channel",
            "telegram",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_site_administrator_cannot_send_the_token_elsewhere(
    rest, telegram_on_sandbox, token_catcher, plone_redis
):
    from messenger_worker import keys

    before = rest("GET", "manager").json()["data"]["telegram_api_url"]
    response = rest("PATCH", "siteadmin", json={"telegram_api_url": token_catcher.url})
    assert response.status_code == 400, response.text
    [error] = json.loads(response.json()["message"])
    assert error["field"] == "telegram_api_url"
    assert error["message"].startswith(
        f"Only a Manager may send this channel's token to {token_catcher.url}"
    )
    assert "https://api.telegram.org" in error["message"]
    assert rest("GET", "manager").json()["data"]["telegram_api_url"] == before
    published = json.loads(plone_redis.hget(keys.SETTINGS_KEY, "json"))
    assert published["channels"]["telegram"]["api_url"] == before

    result = check_telegram_credentials()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("telegram: OK"), (
        result.stdout
    )  # the sandbox answered
    assert token_catcher.requests == []


def test_manager_may_send_the_token_anywhere(rest, telegram_on_sandbox, token_catcher):
    response = rest("PATCH", "manager", json={"telegram_api_url": token_catcher.url})
    assert response.status_code == 204, response.text
    check_telegram_credentials()
    token = rest("GET", "manager").json()["data"]["telegram_bot_token"]
    assert token_catcher.requests == [f"/bot{token}/getMe"]


@pytest.mark.parametrize(
    "field, url",
    [
        ("telegram_api_url", "https://api.telegram.org"),
        ("whatsapp_api_url", "https://graph.facebook.com/"),
        ("threema_api_url", "https://msgapi.threema.ch"),
        ("telegram_api_url", "http://127.0.0.1:8099/telegram"),
        ("signal_api_url", "http://localhost:8080"),
        ("signal_api_url", "http://[::1]:8080"),
    ],
)
def test_site_administrator_may_choose_platform_or_loopback(rest, field, url):
    response = rest("PATCH", "siteadmin", json={field: url})
    assert response.status_code == 204, response.text
    assert rest("GET", "manager").json()["data"][field] == url


@pytest.mark.parametrize(
    "field, url",
    [
        ("telegram_api_url", "https://api.telegram.org.example.net"),
        ("telegram_api_url", "https://api.telegram.org@example.net"),
        ("telegram_api_url", "http://api.telegram.org"),
        ("whatsapp_api_url", "https://graph.facebook.com:8443"),
        ("threema_api_url", "https://example.net"),
        ("signal_api_url", "http://signal.example.net:8080"),
        ("signal_api_url", "http://0.0.0.0:8080"),
    ],
)
def test_site_administrator_refused_other_hosts(rest, field, url):
    before = rest("GET", "manager").json()["data"][field]
    response = rest("PATCH", "siteadmin", json={field: url, "telegram_rate": 7.0})
    assert response.status_code == 400, response.text
    errors = json.loads(response.json()["message"])
    assert [e["field"] for e in errors] == [field]
    assert errors[0]["message"].startswith("Only a Manager may send")
    data = rest("GET", "manager").json()["data"]
    assert data[field] == before
    assert data["telegram_rate"] == 30.0  # nothing of the refused request is stored


def test_site_administrator_keeps_what_a_manager_set(rest):
    assert (
        rest(
            "PATCH", "manager", json={"signal_api_url": "http://signal.intern:8080"}
        ).status_code
        == 204
    )
    response = rest(
        "PATCH",
        "siteadmin",
        json={"signal_api_url": "http://signal.intern:8080", "signal_rate": 2.0},
    )
    assert response.status_code == 204, response.text
    assert rest("GET", "manager").json()["data"]["signal_rate"] == 2.0


@pytest.mark.parametrize("field", ["telegram_webhook_secret", "signal_webhook_secret"])
def test_short_webhook_secret_refused(rest, field):
    response = rest("PATCH", "manager", json={field: "x" * 31})
    assert response.status_code == 400, response.text
    [error] = json.loads(response.json()["message"])
    assert error["field"] == field
    assert "The secret has 31 characters; use at least 32" in error["message"]
    assert rest("GET", "manager").json()["data"][field] is None
    secret = "a" * 32
    assert rest("PATCH", "manager", json={field: secret}).status_code == 204
    assert rest("GET", "manager").json()["data"][field] == secret


def test_site_administrator_cannot_go_around_through_registry(rest, live_site):
    # @registry needs "Manage portal", which Plone gives to Managers only: keep it so.
    before = rest("GET", "manager").json()["data"]["telegram_api_url"]
    response = requests.patch(
        f"{live_site}/@registry",
        json={"collective.messenger.telegram_api_url": "https://evil.example"},
        auth=("siteadmin", PASSWORD),
        headers={"Accept": "application/json"},
        timeout=30,
    )
    assert response.status_code in (400, 401, 403), response.text
    assert rest("GET", "manager").json()["data"]["telegram_api_url"] == before
