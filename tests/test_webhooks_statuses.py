"""``messenger_worker.statuses``: the worker remembers WhatsApp message ids, receipts count once."""

import json

from conftest import wait_until

from messenger_worker import fanout
from messenger_worker import settings
from messenger_worker import statuses
from messenger_worker.ledger import GONE_KEY
from messenger_worker.ledger import POST_TTL_SECONDS
from messenger_worker.ledger import read_stats
from messenger_worker.ledger import stats_key
from messenger_worker.payload import Post
from messenger_worker.payload import Recipient


def remembered(
    redis_client, wamid="wamid.A", post_id="p1", subscriber_id="s1", stats=True
):
    if stats:
        redis_client.hset(stats_key(post_id), "whatsapp:sent", 1)
    with redis_client.pipeline() as pipe:
        statuses.remember(pipe, wamid, post_id, subscriber_id)
        pipe.execute()


def receipts(redis_client, post_id="p1"):
    counters = read_stats(redis_client, post_id).get("whatsapp", {})
    return {
        name: counters.get(name, 0)
        for name in ("delivered", "read", "failed_after_send")
    }


def test_remember_keeps_post_and_subscriber_as_long_as_the_stats(redis_client):
    remembered(redis_client)
    key = statuses.message_key("wamid.A")
    assert redis_client.hgetall(key) == {b"post": b"p1", b"subscriber": b"s1"}
    assert POST_TTL_SECONDS - 5 < redis_client.ttl(key) <= POST_TTL_SECONDS


def test_each_receipt_counts_once_in_any_order(redis_client):
    remembered(redis_client)
    for status in (
        "read",
        "sent",
        "delivered",
        "read",
        "delivered",
        "failed",
        "failed",
    ):
        statuses.record_status(redis_client, "wamid.A", status)
    assert receipts(redis_client) == {"delivered": 1, "read": 1, "failed_after_send": 1}
    assert (
        read_stats(redis_client, "p1")["whatsapp"]["sent"] == 1
    )  # "sent" receipts count nothing


def test_record_status_answers_the_post_it_counted_for(redis_client):
    remembered(redis_client)
    assert statuses.record_status(redis_client, "wamid.A", "delivered") == "p1"
    assert statuses.record_status(redis_client, "wamid.A", "delivered") is None
    assert statuses.record_status(redis_client, "wamid.A", "sent") is None
    assert statuses.record_status(redis_client, "wamid.A", "deleted") is None


def test_unknown_or_expired_messages_create_no_keys(redis_client):
    assert statuses.record_status(redis_client, "wamid.unknown", "read") is None
    remembered(
        redis_client, "wamid.B", "gone-post", stats=False
    )  # the post's stats expired
    before = sorted(redis_client.keys("*"))
    assert statuses.record_status(redis_client, "wamid.B", "delivered") is None
    assert sorted(redis_client.keys("*")) == before
    kept = redis_client.hgetall(statuses.message_key("wamid.B"))
    assert kept == {b"post": b"gone-post", b"subscriber": b"s1"}


def test_undeliverable_after_send_lists_the_subscriber_as_gone(redis_client):
    remembered(redis_client, "wamid.A", subscriber_id="s1")
    remembered(redis_client, "wamid.C", subscriber_id="s3")
    statuses.record_status(redis_client, "wamid.A", "failed", 131050, now=1000.0)
    statuses.record_status(
        redis_client, "wamid.C", "failed", 131047
    )  # window closed: not gone
    gone = {
        key.decode(): json.loads(value)
        for key, value in redis_client.hgetall(GONE_KEY).items()
    }
    assert gone == {
        "whatsapp:s1": {
            "reason": statuses.GONE_CODES[131050],
            "post": "p1",
            "at": 1000.0,
        }
    }
    assert receipts(redis_client)["failed_after_send"] == 2


def test_a_worker_remembers_whatsapp_message_ids_only(
    redis_client, sandbox, start_worker
):
    document = {
        "schema": 1,
        "channels": {c: sandbox.channel_settings(c) for c in settings.CHANNELS},
        "topics": [],
        "templates": {},
        "phone_region": "DE",
    }
    settings.publish(redis_client, document)
    post = Post(
        id="p1",
        content_uid="uid-1",
        kind="news",
        title="Sperrung",
        url="https://x.de/a",
        teaser="Ab Montag.",
        image_url="https://x.de/a.jpg",
    )
    people = [Recipient(f"w{n}", "whatsapp", f"491511234560{n}") for n in range(3)]
    people += [Recipient("t1", "telegram", "1001")]
    fanout.enqueue_post(
        redis_client, post, people, {"whatsapp": 1000.0, "telegram": 1000.0}
    )
    start_worker()
    wait_until(
        lambda: (
            read_stats(redis_client, "p1").get("whatsapp", {}).get("sent") == 3
            and read_stats(redis_client, "p1").get("telegram", {}).get("sent") == 1
        ),
        message="delivery",
    )
    sent = {
        m["message_id"]: m["recipient"] for m in sandbox.messages(channel="whatsapp")
    }
    keys = sorted(key.decode() for key in redis_client.keys("messenger:wamid:*"))
    assert keys == sorted(statuses.message_key(wamid) for wamid in sent)
    for wamid, wa_id in sent.items():
        subscriber = next(p.subscriber_id for p in people if p.address == wa_id)
        kept = redis_client.hgetall(statuses.message_key(wamid))
        assert kept == {b"post": b"p1", b"subscriber": subscriber.encode()}
