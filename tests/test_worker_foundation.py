"""The worker side without Zope: import isolation, settings contract, health, CLI."""

import json
import os
import pkgutil
import subprocess
import sys

import pytest
from rq import Queue

import messenger_worker
from messenger_worker import cli
from messenger_worker import health
from messenger_worker import keys
from messenger_worker import settings
from messenger_worker.connection import display_url

FORBIDDEN = ("zope", "Zope2", "Products", "plone", "ZODB", "collective")


def test_worker_imports_no_zope_or_plone():
    modules = [
        m.name
        for m in pkgutil.walk_packages(messenger_worker.__path__, "messenger_worker.")
        if not m.name.endswith(".__main__")  # importing it runs the program, by design
    ]
    assert "messenger_worker.cli" in modules
    script = (
        "import importlib, json, sys\n"
        f"for name in {['messenger_worker', *modules]!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    offending = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert offending == []
    assert "rq" in loaded  # the check above sees real imports


DOCUMENT = {
    "schema": 1,
    "channels": {
        "telegram": {
            "enabled": True,
            "bot_token": "from-plone",
            "bot_username": "x_bot",
        },
        "threema": {"enabled": False},
    },
    "topics": [{"id": "freibad", "title": "Freibad", "description": ""}],
}


def test_publish_increments_version_atomically(redis_client):
    assert settings.published_state(redis_client) == (0, None)
    assert settings.publish(redis_client, DOCUMENT) == 1
    assert settings.publish(redis_client, DOCUMENT) == 2
    version, fingerprint = settings.published_state(redis_client)
    assert version == 2
    assert fingerprint == settings.digest(DOCUMENT)
    assert json.loads(redis_client.hget(keys.SETTINGS_KEY, "json")) == DOCUMENT


def test_cache_reloads_only_when_version_changes(redis_client):
    cache = settings.SettingsCache(redis_client, environ={})
    assert cache.current() is None
    settings.publish(redis_client, DOCUMENT)
    assert cache.current()["topics"][0]["id"] == "freibad"
    # A write that bypasses publish() is not seen: the version decides, not the content.
    redis_client.hset(keys.SETTINGS_KEY, "json", json.dumps({"topics": []}))
    assert cache.current()["topics"][0]["id"] == "freibad"
    changed = dict(DOCUMENT, topics=[])
    settings.publish(redis_client, changed)
    assert cache.current()["topics"] == []
    assert cache.version == 2


def test_environment_secret_wins(redis_client):
    settings.publish(redis_client, DOCUMENT)
    environ = {
        "MESSENGER_TELEGRAM_BOT_TOKEN": "from-env",
        "MESSENGER_THREEMA_API_SECRET": "t",
    }
    document = settings.SettingsCache(redis_client, environ=environ).current()
    assert document["channels"]["telegram"]["bot_token"] == "from-env"
    assert document["channels"]["threema"]["api_secret"] == "t"


def test_missing_fields():
    assert settings.missing_fields(DOCUMENT, "telegram") == []
    assert settings.missing_fields(DOCUMENT, "threema") == ["gateway_id", "api_secret"]


def test_health_counts_queues(redis_client):
    Queue(keys.QUEUE_HIGH, connection=redis_client).enqueue(
        "messenger_worker.jobs.noop"
    )
    state = health.collect(redis_client)
    assert state["reachable"] is True
    assert state["redis_version"] == redis_client.info("server")["redis_version"]
    by_name = {q["name"]: q for q in state["queues"]}
    assert list(by_name) == list(keys.QUEUES)
    assert by_name[keys.QUEUE_HIGH]["queued"] == 1
    assert by_name[keys.QUEUE_DEFAULT]["queued"] == 0
    assert state["workers"] == []


def test_health_of_unreachable_redis():
    from messenger_worker.connection import connect
    from messenger_worker.testing import free_port

    state = health.collect(connect(f"redis://127.0.0.1:{free_port()}/0", timeout=1))
    assert state["reachable"] is False
    assert "Connection refused" in state["error"] or "Error" in state["error"]


def test_display_url_hides_password():
    assert (
        display_url("redis://:hunter2@redis.example:6380/1")
        == "redis://:***@redis.example:6380/1"
    )
    assert display_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def _worker_env(redis_server):
    return dict(os.environ, MESSENGER_REDIS_URL=redis_server.url)


def test_cli_run_registers_worker_and_status_shows_it(redis_server, redis_client):
    settings.publish(redis_client, DOCUMENT)
    worker = subprocess.Popen(
        [sys.executable, "-m", "messenger_worker.cli", "run"],
        env=_worker_env(redis_server),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        import time

        deadline = time.monotonic() + 30
        while not health.collect(redis_client)["workers"]:
            assert worker.poll() is None, worker.stdout.read()
            assert time.monotonic() < deadline, "worker did not register"
            time.sleep(0.1)
        status = subprocess.run(
            [sys.executable, "-m", "messenger_worker.cli", "status"],
            env=_worker_env(redis_server),
            capture_output=True,
            text=True,
        )
        assert status.returncode == 0
        assert "Settings: version 1" in status.stdout
        assert "messenger-high" in status.stdout
        assert "idle" in status.stdout or "busy" in status.stdout
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert "Settings version 1 loaded" in output
    assert worker.returncode == 0


def test_cli_status_when_redis_is_down(redis_server):
    from messenger_worker.testing import free_port

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "messenger_worker.cli",
            "--redis-url",
            f"redis://127.0.0.1:{free_port()}/0",
            "status",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "is not reachable" in result.stdout


def test_cli_rejects_zero_processes(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--processes", "0"])
    assert "must be 1 or more" in capsys.readouterr().err
