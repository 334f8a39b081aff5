"""Redis as a trust boundary: Zope and a worker on a Redis with ACL users, passwords and TLS,
as the README's "Operating: a hardened Redis" sets it up (``HARDENED_FUNCTIONAL_TESTING``)."""

import json
import os
import subprocess
import sys

import pytest
import redis
import transaction
from conftest import add_users
from conftest import PASSWORD
from conftest import wait_until
from conftest import WorkerProcess
from plone.testing.zope import Browser
from pytest_plone import fixtures_factory
from status_support import news
from status_support import prepare
from status_support import publish
from status_support import subscribe

from collective.messenger.redis_client import get_redis
from collective.messenger.settings.publish import publish_now
from collective.messenger.settings.secrets import SecretStore
from collective.messenger.testing import ACL_PASSWORDS
from collective.messenger.testing import HARDENED_FUNCTIONAL_TESTING
from messenger_sandbox import config as sandbox_config
from messenger_worker import keys
from messenger_worker.connection import CA_FILE_VARIABLE
from messenger_worker.connection import REDIS_URL_VARIABLE
from messenger_worker.ledger import read_stats

globals().update(fixtures_factory(((HARDENED_FUNCTIONAL_TESTING, "hardened"),)))

TOKEN_VARIABLE = "MESSENGER_TELEGRAM_BOT_TOKEN"


@pytest.fixture
def server(hardened):
    """The hardened redis-server; its client is the default (admin) user, for checks only."""
    server = hardened["redis_server"]
    admin = server.client()
    admin.flushall()
    admin.acl_log_reset()
    return server


@pytest.fixture
def site(hardened, server):
    add_users(hardened["portal"])
    return hardened["portal"]


@pytest.fixture
def workers(hardened):
    started = []

    def start(url=None, env=None):
        started.append(WorkerProcess(url or hardened["redis_worker_url"], env=env))
        return started[-1]

    yield start
    for worker in started:
        worker.kill()


def denied(server):
    """What the ACL refused since the test began: (user, command or key), none expected."""
    return [(entry["username"], entry["object"]) for entry in server.client().acl_log()]


def test_zope_connects_as_its_acl_user_and_publishes_settings(site, server):
    assert get_redis().client_info()["user"] == "zope"
    version = publish_now(site)
    raw = server.client().hget(keys.SETTINGS_KEY, "json")
    assert json.loads(raw)["schema"] == 1
    assert int(server.client().hget(keys.SETTINGS_KEY, "version")) == version
    assert denied(server) == []


@pytest.mark.parametrize("user", ["zope", "worker"])
def test_acl_users_reach_only_their_keys_and_no_admin_command(hardened, server, user):
    client = redis.Redis.from_url(server.url_for(user, ACL_PASSWORDS[user]))
    client.set("messenger:probe", "1")
    client.set("rq:probe", "1")
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.set("other-app:session", "1")
    for command in (
        ("FLUSHALL",),
        ("CONFIG", "GET", "requirepass"),
        ("KEYS", "*"),
        ("ACL", "LIST"),
        ("CLIENT", "KILL", "ID", "1"),
        ("SAVE",),
        ("FUNCTION", "FLUSH"),
        ("CLIENT", "LIST"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.execute_command(*command)
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis.from_url(server.url_for(user, "wrong-password")).ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis.from_url(server.url_for()).ping()  # no anonymous access


def test_zope_never_blocks_on_a_queue(hardened, server):
    client = redis.Redis.from_url(server.url_for("zope", ACL_PASSWORDS["zope"]))
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.blpop(["rq:queue:messenger"], timeout=1)


def test_publish_and_delivery_through_acl_users_with_token_from_environment(
    site, server, hardened, sandbox, workers, monkeypatch
):
    """The whole way through the hardened Redis: settings, publishing, a worker process
    (over TLS) delivering to the sandbox, the control panel. The bot token is only in the
    environment of Zope and of the worker: it must work and never reach Redis."""
    token = sandbox_config.DEFAULTS["telegram"]["token"]
    monkeypatch.setenv(TOKEN_VARIABLE, token)
    prepare(site, sandbox, channels=("telegram",))
    SecretStore(site).set("telegram_bot_token", None)
    transaction.commit()
    published = json.loads(server.client().hget(keys.SETTINGS_KEY, "json"))
    assert published["channels"]["telegram"]["bot_token"] is None
    assert published["channels"]["telegram"]["api_url"] == f"{sandbox.url}/telegram"

    subscribe([7001, 7002, 7003])
    item = news(site)
    publish(item)
    # The worker over TLS, checking the server's certificate against the CA from its environment.
    worker = workers(
        server.url_for("worker", ACL_PASSWORDS["worker"], tls=True),
        env={TOKEN_VARIABLE: token, CA_FILE_VARIABLE: server.ca_file},
    )
    from collective.messenger.publishing.outbox import get_outbox

    [entry] = get_outbox().entries_for(item.UID())
    admin = server.client()
    try:
        wait_until(
            lambda: (
                read_stats(admin, entry.post_id).get("telegram", {}).get("sent", 0) == 3
            ),
            timeout=60,
            message="delivery through the worker ACL user",
        )
    except AssertionError:
        raise AssertionError(
            f"ACL refused {denied(server)}; the worker said:\n{worker.output}"
        )
    connections = [c for c in admin.client_list() if c.get("user") == "worker"]
    assert connections and all(
        c["laddr"].endswith(f":{server.tls_port}") for c in connections
    )
    received = sandbox.messages(channel="telegram")
    assert sorted(m["recipient"] for m in received) == ["7001", "7002", "7003"]

    browser = Browser(hardened["app"])
    browser.handleErrors = False
    browser.addHeader("Authorization", f"Basic siteadmin:{PASSWORD}")
    browser.open(site.absolute_url() + "/@@messenger-controlpanel")
    health = browser.contents.split('id="messenger-queues"')[0]
    assert "reachable" in health and "not reachable" not in health

    assert denied(server) == [], worker.output
    admin.config_set(
        "rdbcompression", "no"
    )  # DUMP as stored, so the search below sees all
    for key in admin.scan_iter(count=1000):
        dump = admin.dump(key) or b""
        assert token.encode() not in dump, key


def test_citizen_signs_up_through_the_webhook_and_gets_the_welcome(
    site, server, hardened, sandbox, workers
):
    """The inbound way: a Telegram /start reaches Zope's webhook, Zope (as ``zope``) queues
    the welcome, the worker (as ``worker``) sends it to the phone."""
    from webhooks_support import new_delivery
    from webhooks_support import payload
    from webhooks_support import TELEGRAM_SECRET

    from collective.messenger.subscribers import get_store
    from collective.messenger.subscribers.model import Consent

    prepare(site, sandbox, channels=("telegram",))
    pending = get_store().add_pending(
        "telegram",
        ["baustellen-verkehr"],
        "de",
        Consent(privacy_version="test", path="rest"),
    )
    transaction.commit()
    update = new_delivery("telegram", payload("telegram_message_private.json"))
    update["message"]["text"] = f"/start {pending.confirm_token}"
    update["message"]["chat"]["id"] = update["message"]["from"]["id"] = 4711

    browser = Browser(hardened["app"])
    browser.handleErrors = False
    browser.addHeader("X-Telegram-Bot-Api-Secret-Token", TELEGRAM_SECRET)
    browser.post(
        site.absolute_url() + "/@messenger-webhook/telegram",
        json.dumps(update),
        "application/json",
    )
    assert json.loads(browser.contents)["outcomes"] == ["activated"]

    worker = workers()
    try:
        [welcome] = wait_until(
            lambda: sandbox.messages(channel="telegram", recipient="4711"),
            timeout=60,
            message="the welcome on the phone",
        )
    except AssertionError:
        raise AssertionError(
            f"ACL refused {denied(server)}; the worker said:\n{worker.output}"
        )
    assert "/stop" in welcome["text"]
    assert denied(server) == [], worker.output


def test_zope_over_tls_needs_the_ca_file(site, server, monkeypatch):
    monkeypatch.setenv(
        REDIS_URL_VARIABLE, server.url_for("zope", ACL_PASSWORDS["zope"], tls=True)
    )
    monkeypatch.delenv(CA_FILE_VARIABLE, raising=False)
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        publish_now(site)
    monkeypatch.setenv(CA_FILE_VARIABLE, server.ca_file)
    version = publish_now(site)
    assert int(server.client().hget(keys.SETTINGS_KEY, "version")) == version


def worker_status(url, ca_file=None):
    env = {k: v for k, v in os.environ.items() if k != CA_FILE_VARIABLE}
    if ca_file:
        env[CA_FILE_VARIABLE] = ca_file
    return subprocess.run(
        [sys.executable, "-m", "messenger_worker.cli", "--redis-url", url, "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_worker_over_tls_with_ca_file_from_environment(site, server):
    publish_now(site)
    url = server.url_for("worker", ACL_PASSWORDS["worker"], tls=True)
    result = worker_status(url, ca_file=server.ca_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"at rediss://worker:***@127.0.0.1:{server.tls_port}/0" in result.stdout
    assert "Settings: version" in result.stdout
    assert ACL_PASSWORDS["worker"] not in result.stdout + result.stderr

    result = worker_status(url)
    assert result.returncode == 1
    assert "certificate verify failed" in result.stdout


def test_readme_shows_the_acl_rules_the_tests_use():
    from messenger_worker.connection import WORKER_ACL_RULES
    from messenger_worker.connection import ZOPE_ACL_RULES

    readme = open(
        os.path.join(os.path.dirname(__file__), "..", "README.md"), encoding="utf-8"
    ).read()
    section = readme.split("## Operating: a hardened Redis")[1].split("\n## ")[0]
    assert f"user zope on >ZOPE-PASSWORD {ZOPE_ACL_RULES}\n" in section
    assert f"user worker on >WORKER-PASSWORD {WORKER_ACL_RULES}\n" in section
    assert "user default off\n" in section
