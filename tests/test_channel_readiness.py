"""The checks before every post batch and every reply: switched off, settings missing, paused.

Both kinds of job ask ``readiness.channel_readiness``; these tests hold it to one answer for
both (real Redis, a real worker, the sandbox).
"""

import time

from conftest import wait_until
from delivery_support import done
from delivery_support import enqueue
from delivery_support import make_post
from delivery_support import publish
from delivery_support import recipients
from delivery_support import reply_state
from delivery_support import stats

from messenger_worker import replies
from messenger_worker import settings
from messenger_worker.pauses import ChannelPauses
from messenger_worker.payload import Recipient
from messenger_worker.readiness import channel_readiness

DOCUMENT = {
    "channels": {
        "telegram": {
            "enabled": True,
            "bot_token": "123:abc",
            "bot_username": "stadt_bot",
        },
        "signal": {
            "enabled": True,
            "api_url": "http://signal-cli:8080",
            "sender_number": "",
        },
        "threema": {"enabled": False, "gateway_id": "*STADT01", "api_secret": "s"},
    },
}


def test_a_ready_channel_gives_its_settings(redis_client):
    ready = channel_readiness(DOCUMENT, "telegram", ChannelPauses(redis_client), "v1")
    assert ready.settings["bot_token"] == "123:abc"
    assert ready.off is None and ready.pause is None


def test_a_switched_off_channel_is_off_and_not_paused(redis_client):
    ready = channel_readiness(DOCUMENT, "threema", ChannelPauses(redis_client), "v1")
    assert ready.off == "The threema channel is switched off in the control panel."
    assert ready.pause is None and ChannelPauses(redis_client).all() == {}


def test_missing_settings_pause_the_channel_until_new_settings(redis_client):
    pauses = ChannelPauses(redis_client)
    ready = channel_readiness(DOCUMENT, "signal", pauses, "v1")
    assert ready.off is None
    assert ready.pause["reason"] == "Settings missing: sender_number."
    assert pauses.all()["signal"]["settings_version"] == "v1"
    signal = dict(DOCUMENT["channels"]["signal"], sender_number="+4915100000000")
    fixed = {"channels": dict(DOCUMENT["channels"], signal=signal)}
    again = channel_readiness(fixed, "signal", pauses, "v2")
    assert again.pause is None and pauses.all() == {}


def test_post_and_reply_wait_alike_while_settings_are_missing(
    redis_client, sandbox, start_worker
):
    channels = {
        channel: sandbox.channel_settings(channel) for channel in settings.CHANNELS
    }
    channels["telegram"] = dict(channels["telegram"], bot_token="", rate=1000)
    publish(redis_client, sandbox, channels=channels)
    enqueue(redis_client, make_post(), recipients("telegram", 2))
    address = recipients("telegram", 1)[0].address
    replies.enqueue_reply(
        redis_client,
        "welcome-sub-9",
        Recipient("sub-9", "telegram", address),
        "Willkommen!",
    )
    start_worker()
    pause = wait_until(
        lambda: ChannelPauses(redis_client).all().get("telegram"), message="pause"
    )
    assert pause["reason"] == "Settings missing: bot_token."
    time.sleep(2)  # both rescheduled, neither failed
    assert stats(redis_client, "p1", "telegram").get("failed", 0) == 0
    assert reply_state(redis_client, "welcome-sub-9")[0] == "unknown"
    assert sandbox.messages(channel="telegram") == []
    # The admin adds the token: the new settings lift the pause and both go out.
    publish(redis_client, sandbox, rates={"telegram": 1000})
    wait_until(
        lambda: done(redis_client, "p1", "telegram", 2), timeout=30, message="post"
    )
    wait_until(
        lambda: reply_state(redis_client, "welcome-sub-9")[0] == "sent",
        timeout=30,
        message="reply",
    )
    assert len(sandbox.messages(channel="telegram")) == 3
