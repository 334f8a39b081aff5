"""``messenger-worker`` commands an operator types, against real Redis and the sandbox."""

import os
import subprocess
import sys

import requests
from conftest import wait_until

from messenger_worker import settings
from messenger_worker.pauses import ChannelPauses
from messenger_worker.testing import free_port


def cli(redis_server, *args, timeout=60):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "messenger_worker.cli",
            "--redis-url",
            redis_server.url,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_test_channel_accepts_good_credentials(redis_server, redis_client, sandbox):
    settings.publish(redis_client, sandbox.settings_document())
    for channel in settings.CHANNELS:
        result = cli(redis_server, "test-channel", channel)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"{channel}: OK" in result.stdout
    assert "@musterstadt_bot" in cli(redis_server, "test-channel", "telegram").stdout


def test_test_channel_reports_bad_credentials(redis_server, redis_client, sandbox):
    settings.publish(redis_client, sandbox.settings_document())
    sandbox.configure(telegram={"bad_token": True}, threema={"no_credits": True})
    telegram = cli(redis_server, "test-channel", "telegram")
    assert telegram.returncode == 1
    assert "telegram: FAILED" in telegram.stdout and "token" in telegram.stdout.lower()
    assert cli(redis_server, "test-channel", "threema").returncode == 1


def test_test_channel_names_missing_settings(redis_server, redis_client, sandbox):
    document = sandbox.settings_document()
    document["channels"]["threema"]["api_secret"] = ""
    settings.publish(redis_client, document)
    result = cli(redis_server, "test-channel", "threema")
    assert result.returncode == 1
    assert "settings missing: api_secret" in result.stdout


def test_status_lists_paused_channels(redis_server, redis_client):
    settings.publish(redis_client, {"schema": 1, "channels": {}})
    ChannelPauses(redis_client).pause("whatsapp", "WhatsApp rejected the access token.")
    result = cli(redis_server, "status")
    assert result.returncode == 0
    assert "whatsapp" in result.stdout and "rejected the access token" in result.stdout


def test_sandbox_command_serves_the_platforms(tmp_path):
    # The sandbox's own console script (messenger-sandbox); the worker's has no sandbox.
    port = free_port()
    process = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "messenger-sandbox"),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        def answers():
            try:
                return requests.get(
                    f"http://127.0.0.1:{port}/_sandbox/stats", timeout=1
                ).ok
            except requests.ConnectionError:
                return False

        wait_until(answers, timeout=20, message="sandbox")
        me = requests.get(
            f"http://127.0.0.1:{port}/telegram/bot123456:SANDBOX-TOKEN/getMe", timeout=5
        )
        assert me.json()["result"]["username"] == "musterstadt_bot"
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_try_post_is_delivered_to_sandbox_phones(
    redis_server, redis_client, sandbox, start_worker
):
    start_worker()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "messenger_sandbox.try_post",
            "--sandbox",
            sandbox.url,
            "--redis-url",
            redis_server.url,
            "--recipients",
            "300",
            "--wait",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All done" in result.stdout
    messages = sandbox.messages(channel="telegram")
    assert len({m["recipient"] for m in messages}) == 300
    assert "Vollsperrung Hauptstraße" in messages[0]["text"]
    assert "Hauptstraße, zwischen Markt und Bahnhof" in messages[0]["text"]


def test_try_post_refuses_to_replace_real_settings(redis_server, redis_client, sandbox):
    document = sandbox.settings_document()
    document["channels"]["telegram"]["api_url"] = "https://api.telegram.org"
    settings.publish(redis_client, document)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "messenger_sandbox.try_post",
            "--sandbox",
            sandbox.url,
            "--redis-url",
            redis_server.url,
            "--recipients",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "real platforms" in result.stderr
