"""Replays: a message or update the site saw in the last 24 hours is answered 200 and ignored.

Telegram repeats an update for up to a day until it gets a 200, Meta repeats webhooks for
days, and anyone who recorded a signed request can send it again.
"""

import logging

import pytest
import transaction
from conftest import conflict_on_first_attempt
from webhooks_support import configure
from webhooks_support import Hooks
from webhooks_support import new_delivery
from webhooks_support import payload
from webhooks_support import SIGNAL_ACCOUNT
from webhooks_support import WHATSAPP_NUMBER_ID

SEEN = b"messenger:webhook-seen:*"


@pytest.fixture
def hooks(live_site, acceptance):
    configure(acceptance["portal"])
    return Hooks(live_site, acceptance["portal"])


def telegram_start(token, chat_id=4711):
    update = new_delivery("telegram", payload("telegram_message_private.json"))
    update["message"]["text"] = f"/start {token}"
    update["message"]["chat"]["id"] = update["message"]["from"]["id"] = chat_id
    return update


def whatsapp_message(text, wa_id="4915112345678"):
    data = new_delivery("whatsapp", payload("whatsapp_text_message.json"))
    value = data["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = WHATSAPP_NUMBER_ID
    value["contacts"][0]["wa_id"] = value["messages"][0]["from"] = wa_id
    value["messages"][0]["text"]["body"] = text
    return data


def signal_message(text, number="+4915112345678"):
    data = new_delivery("signal", payload("signal_envelope.json"))
    data["account"] = SIGNAL_ACCOUNT
    data["envelope"]["source"] = data["envelope"]["sourceNumber"] = number
    data["envelope"]["dataMessage"]["message"] = text
    return data


def reply_jobs(redis_client):
    from rq import Queue
    from rq.serializers import JSONSerializer

    from messenger_worker import keys

    return Queue(
        keys.QUEUE_LOW, connection=redis_client, serializer=JSONSerializer
    ).job_ids


def test_telegram_update_delivered_again_is_acknowledged_and_ignored(
    hooks, plone_redis
):
    signup = hooks.pending()
    update = telegram_start(signup.confirm_token)
    assert hooks.telegram(update, replay=True).json()["outcomes"] == ["activated"]
    replies = reply_jobs(plone_redis)
    assert len(replies) == 1  # the welcome
    before = hooks.snapshot(plone_redis)

    again = hooks.telegram(update, replay=True)
    assert again.status_code == 200
    assert again.json() == {"ok": True, "outcomes": ["replayed"]}
    # Without the check: "already-active", and a second answer to the citizen.
    assert hooks.snapshot(plone_redis) == before
    assert reply_jobs(plone_redis) == replies

    # The same text as a new update (another update_id) is a new message.
    assert hooks.telegram(update).json()["outcomes"] == ["already-active"]


def test_telegram_block_delivered_again(hooks, plone_redis):
    signup = hooks.pending()
    hooks.telegram(telegram_start(signup.confirm_token, chat_id=77462709))
    blocked = new_delivery("telegram", payload("telegram_my_chat_member_kicked.json"))
    assert hooks.telegram(blocked, replay=True).json()["outcomes"] == ["unreachable"]
    assert hooks.telegram(blocked, replay=True).json()["outcomes"] == ["replayed"]


def test_whatsapp_message_id_seen_before_in_a_batch(hooks, plone_redis):
    """Meta batches messages; only the one seen before is ignored."""
    signup = hooks.pending(channel="whatsapp")
    first = whatsapp_message(f"START {signup.confirm_token}")
    assert hooks.whatsapp(first, replay=True).json()["outcomes"] == ["activated"]

    batch = whatsapp_message("STOP")
    batch["entry"][0]["changes"][0]["value"]["messages"].insert(
        0, first["entry"][0]["changes"][0]["value"]["messages"][0]
    )
    assert hooks.whatsapp(batch, replay=True).json()["outcomes"] == [
        "replayed",
        "unsubscribed",
    ]
    assert hooks.store().get(signup.id).state == "unsubscribed"
    assert hooks.whatsapp(batch, replay=True).json()["outcomes"] == [
        "replayed",
        "replayed",
    ]


def test_whatsapp_receipts_are_not_replay_checked(hooks, plone_redis):
    # Receipts count once per message and status by themselves (messenger_worker.statuses).
    data = payload("whatsapp_status_delivered.json")
    data["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = (
        WHATSAPP_NUMBER_ID
    )
    for _ in range(2):
        assert hooks.whatsapp(data, replay=True).json()["outcomes"] == ["ignored"]
    assert plone_redis.keys(SEEN) == []


def test_signal_timestamp_and_sender(hooks, plone_redis):
    signup = hooks.pending(channel="signal", address="+4915112345678")
    store = hooks.store()
    store.activate(store.get(signup.id))
    transaction.commit()
    stop = signal_message("STOP")
    assert hooks.signal(stop, replay=True).json()["outcomes"] == ["unsubscribed"]
    assert hooks.signal(stop, replay=True).json()["outcomes"] == ["replayed"]
    # The same timestamp from another sender is another message.
    other = signal_message("STOP", number="+4915187654321")
    other["envelope"]["timestamp"] = other["envelope"]["dataMessage"]["timestamp"] = (
        stop["envelope"]["timestamp"]
    )
    assert hooks.signal(other, replay=True).json()["outcomes"] == ["not-subscribed"]


def test_marks_expire_after_24_hours_and_name_no_address(hooks, plone_redis):
    hooks.telegram(telegram_start("x", chat_id=987654321))
    hooks.whatsapp(whatsapp_message("hallo", wa_id="4917612345678"))
    hooks.signal(signal_message("hallo", number="+4915199988877"))
    keys = sorted(plone_redis.keys(SEEN))
    assert [key.split(b":")[2] for key in keys] == [b"signal", b"telegram", b"whatsapp"]
    for key in keys:
        assert 24 * 3600 - 60 < plone_redis.ttl(key) <= 24 * 3600
        for clear in (b"987654321", b"4917612345678", b"4915199988877", b"wamid"):
            assert clear not in key


def test_rejected_requests_claim_nothing(hooks, plone_redis):
    signup = hooks.pending()
    update = telegram_start(signup.confirm_token)
    assert hooks.telegram(update, secret="wrong", replay=True).status_code == 403
    assert plone_redis.keys(SEEN) == []
    assert hooks.telegram(update, replay=True).json()["outcomes"] == ["activated"]


def test_a_conflict_retry_is_not_a_replay(hooks, plone_redis):
    """Zope retries a request that ended in a ConflictError: the retry gives the claim back
    (the first attempt's transaction was aborted) and acts."""
    signup = hooks.pending()
    with conflict_on_first_attempt(
        lambda path: path.endswith("/@messenger-webhook/telegram")
    ) as attempts:
        response = hooks.telegram(telegram_start(signup.confirm_token))
    assert attempts == [0, 1]
    assert response.json()["outcomes"] == ["activated"]
    assert hooks.store().get(signup.id).state == "active"
    assert len(plone_redis.keys(SEEN)) == 1


def test_redis_down_acts_unchecked_and_logs(hooks, plone_redis, monkeypatch, caplog):
    """Without Redis the site cannot tell a replay: it acts on the message (a citizen's
    "/start" must not be lost) and says so in the log."""
    from messenger_worker.connection import REDIS_URL_VARIABLE
    from messenger_worker.testing import free_port

    signup = hooks.pending()
    monkeypatch.setenv(REDIS_URL_VARIABLE, f"redis://127.0.0.1:{free_port()}/0")
    with caplog.at_level(logging.WARNING, logger="collective.messenger"):
        response = hooks.telegram(telegram_start(signup.confirm_token))
    assert response.status_code == 200
    assert response.json()["outcomes"] == ["activated"]
    assert hooks.store().get(signup.id).state == "active"
    assert any(
        "Acting on them unchecked" in record.getMessage() for record in caplog.records
    )
