"""End to end over real HTTP: the sandbox's simulated citizens post the platforms' signed
webhooks to the live site, a worker sends the replies back to the sandbox phones, and
WhatsApp delivery receipts come back into the post's stats."""

import os
import signal

import pytest
import redis
from conftest import _wait_for_dead_workers_to_unblock
from conftest import wait_until
from conftest import WorkerProcess
from webhooks_support import configure
from webhooks_support import Hooks
from webhooks_support import queued_replies
from webhooks_support import SIGNAL_SECRET

from messenger_worker import fanout
from messenger_worker import statuses
from messenger_worker.connection import REDIS_URL_VARIABLE
from messenger_worker.ledger import read_stats
from messenger_worker.payload import Post
from messenger_worker.payload import Recipient

CHAT = 5551001
WA_ID = "4915112345678"
SIGNAL_NUMBER = "+4915112345678"


@pytest.fixture
def hooks(live_site, acceptance, sandbox):
    """The site and the sandbox configured for each other: same secrets, webhooks on the site."""
    configure(acceptance["portal"], sandbox.url)  # also publishes the settings to Redis
    hooks = Hooks(live_site, acceptance["portal"])
    sandbox.configure(
        telegram={"webhook_url": hooks.url("telegram")},
        whatsapp={"webhook_url": hooks.url("whatsapp")},
        signal={"webhook_url": hooks.url(f"signal/{SIGNAL_SECRET}")},
    )
    return hooks


@pytest.fixture
def worker(plone_redis):
    """A worker process on the Redis of the Plone layers."""
    process = WorkerProcess(os.environ[REDIS_URL_VARIABLE])
    yield process
    process.signal_group(signal.SIGKILL)
    process.process.wait(timeout=30)
    _wait_for_dead_workers_to_unblock(
        redis.Redis.from_url(os.environ[REDIS_URL_VARIABLE])
    )


def texts(sandbox, channel, address):
    return [
        message["text"]
        for message in sandbox.messages(channel=channel, recipient=str(address))
    ]


def test_telegram_start_welcome_on_the_phone_then_stop(
    hooks, sandbox, plone_redis, worker
):
    pending = hooks.pending("telegram", topics=("baustellen-verkehr", "warnungen"))
    played = sandbox.citizen(
        "telegram", CHAT, text=f"/start {pending.confirm_token}", name="Anna"
    )
    assert played["webhook"]["status"] == 200, played["webhook"]
    subscriber = hooks.store().get(pending.id)
    assert (subscriber.state, subscriber.address) == ("active", str(CHAT))

    welcome = wait_until(
        lambda: texts(sandbox, "telegram", CHAT),
        timeout=30,
        message="the welcome message",
    )
    assert len(welcome) == 1
    assert "/stop" in welcome[0] and subscriber.manage_token in welcome[0]
    # It went through the reply queue: the worker marked the welcome reply as sent.
    (mark,) = [
        key
        for key in plone_redis.keys(f"messenger:reply:welcome-{pending.id}-*")
        if not key.endswith(b":content")
    ]  # the text, until the job's outcome
    assert plone_redis.get(mark).startswith(b"s:")

    played = sandbox.citizen("telegram", CHAT, text="/stop")
    assert played["webhook"]["status"] == 200
    assert hooks.store().get(pending.id).state == "unsubscribed"
    goodbye = wait_until(
        lambda: texts(sandbox, "telegram", CHAT)[1:], timeout=30, message="the goodbye"
    )
    assert "@@messenger-signup" in goodbye[0]


def test_telegram_block_marks_unreachable(hooks, sandbox):
    pending = hooks.pending("telegram")
    sandbox.citizen("telegram", CHAT, text=f"/start {pending.confirm_token}")
    played = sandbox.citizen("telegram", CHAT, action="block")
    assert played["webhook"]["status"] == 200
    assert hooks.store().get(pending.id).state == "unreachable"


def test_sandbox_with_another_secret_is_refused(hooks, sandbox, plone_redis):
    pending = hooks.pending("telegram")
    sandbox.configure(
        telegram={"webhook_secret": "not-what-plone-expects"},
        whatsapp={"app_secret": "not-the-app-secret"},
    )
    before = hooks.snapshot(plone_redis)
    played = sandbox.citizen("telegram", CHAT, text=f"/start {pending.confirm_token}")
    assert played["webhook"]["status"] == 403
    assert sandbox.citizen("whatsapp", WA_ID, text="STOP")["webhook"]["status"] == 403
    assert hooks.snapshot(plone_redis) == before


def test_whatsapp_start_and_signal_stop_through_the_sandbox(
    hooks, sandbox, plone_redis
):
    import transaction

    pending = hooks.pending("whatsapp")
    played = sandbox.citizen(
        "whatsapp", WA_ID, text=f"START {pending.confirm_token}", name="Anna"
    )
    assert played["webhook"]["status"] == 200
    assert hooks.store().get(pending.id).address == WA_ID

    signal_pending = hooks.pending("signal", address=SIGNAL_NUMBER)
    store = hooks.store()
    store.activate(store.get(signal_pending.id))
    transaction.commit()
    assert (
        sandbox.citizen("signal", SIGNAL_NUMBER, text="Abmelden")["webhook"]["status"]
        == 200
    )
    assert hooks.store().get(signal_pending.id).state == "unsubscribed"
    kinds = sorted(reply[0].split("-")[0] for reply in queued_replies(plone_redis))
    assert kinds == ["goodbye", "welcome"]


def test_whatsapp_receipts_reach_the_post_stats(hooks, sandbox, plone_redis, worker):
    sandbox.configure(whatsapp={"status_webhooks": True, "read_receipts": True})
    # The citizen wrote first: a free-text reply would be allowed too; posts go as templates.
    sandbox.citizen("whatsapp", WA_ID, text="Hallo")
    post = Post(
        id="post-receipts",
        content_uid="uid-1",
        kind="news",
        title="Sperrung Hauptstraße",
        url="https://www.musterstadt.de/aktuelles/sperrung",
        teaser="Ab Montag gesperrt.",
        image_url="https://www.musterstadt.de/bild.jpg",
    )
    people = [
        Recipient("sub-1", "whatsapp", WA_ID),
        Recipient("sub-2", "whatsapp", "4915112345679"),
    ]
    fanout.enqueue_post(plone_redis, post, people, {"whatsapp": 80.0})

    def counted():
        stats = read_stats(plone_redis, post.id).get("whatsapp", {})
        return stats if stats.get("read") == 2 else None

    stats = wait_until(
        counted, timeout=30, message="two read receipts in the post stats"
    )
    assert (stats["sent"], stats["delivered"], stats["read"]) == (2, 2, 2)
    assert "failed_after_send" not in stats
    wamids = [message["message_id"] for message in sandbox.messages(channel="whatsapp")]
    assert len(wamids) == 2
    for wamid in wamids:
        remembered = plone_redis.hgetall(statuses.message_key(wamid))
        assert remembered[b"post"] == b"post-receipts"
        assert remembered[b"subscriber"] in (b"sub-1", b"sub-2")
