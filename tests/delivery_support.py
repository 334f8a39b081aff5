"""Posts, recipients and settings for the delivery tests (real Redis, workers, sandbox)."""

from messenger_worker import fanout
from messenger_worker import settings
from messenger_worker.ledger import read_stats
from messenger_worker.payload import Post
from messenger_worker.payload import Recipient
from messenger_worker.replies import reply_key

FAST = {"backoff_base_seconds": 0.2, "pause_recheck_seconds": 1}


def publish(redis_client, sandbox, rates=None, **extra):
    document = {
        "schema": 1,
        "channels": {c: sandbox.channel_settings(c) for c in settings.CHANNELS},
        "topics": [],
        "templates": {},
        "phone_region": "DE",
        **FAST,
        **extra,
    }
    for channel, rate in (rates or {}).items():
        document["channels"][channel]["rate"] = rate
    return settings.publish(redis_client, document)


def reply_state(connection, reply_id):
    """What became of ``reply_id`` by its mark: (state, detail), e.g. ("sent", message id).

    States: "unknown" (no mark: not run yet, paused or expired), "claimed", "retrying",
    "sent", "gone", "failed".
    """
    mark = connection.get(reply_key(reply_id))
    mark = mark.decode() if mark else ""
    if not mark:
        return "unknown", ""
    names = {
        "c:": "claimed",
        "r:": "retrying",
        "s:": "sent",
        "g:": "gone",
        "f:": "failed",
    }
    return names.get(mark[:2], "unknown"), mark[2:]


def make_post(post_id="p1", **values):
    data = dict(
        id=post_id,
        content_uid="uid-1",
        kind="news",
        title="Straßensperrung Hauptstraße",
        url="https://musterstadt.de/aktuelles/sperrung",
        teaser="Ab Montag gesperrt.",
        templates={"default": "{title}\n\n{teaser}\n\n{url}"},
    )
    data.update(values)
    return Post(**data)


def recipients(channel, count, start=1000):
    return [
        Recipient(f"{channel}-{n}", channel, str(n))
        for n in range(start, start + count)
    ]


def enqueue(redis_client, post, people, batch_size=500, rate=1000.0):
    rates = {r.channel: rate for r in people}
    return fanout.enqueue_post(redis_client, post, people, rates, batch_size=batch_size)


def stats(redis_client, post_id, channel):
    return read_stats(redis_client, post_id).get(channel, {})


def done(redis_client, post_id, channel, total):
    s = stats(redis_client, post_id, channel)
    return s.get("sent", 0) + s.get("gone", 0) + s.get("failed", 0) >= total
