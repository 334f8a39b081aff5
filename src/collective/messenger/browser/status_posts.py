"""One post's delivery status: the outbox record joined with the worker's counters in Redis.

Shared by the item's viewlet, ``GET @messenger-status`` and the control panel dashboard, so
all three count the same way. The result is JSON-ready (times as ISO 8601 strings).
"""

from datetime import datetime
from datetime import timezone

import redis

from collective.messenger.publishing.dispatch import live_state
from collective.messenger.redis_client import get_redis
from messenger_worker.ledger import read_stats

COUNTERS = ("queued", "sent", "retrying", "gone", "failed")
# What a recipient can end as: every queued recipient ends in one of these.
FINAL = ("sent", "gone", "failed")
OVER = ("cancelled", "skipped")  # states in which nothing (more) goes out
HANDED_OVER = ("queued",)  # the fan-out wrote the counters to Redis
RECEIPTS = ("delivered", "read", "failed_after_send")


def read_live(entries, connection=None):
    """{post_id: (state, stats)} from Redis; stats None when Redis cannot be reached.

    The outbox says "waiting" until a drain confirms the hand-over, also for posts the
    after-commit hook did hand over: ``dispatch.live_state`` asks Redis.
    """
    try:
        connection = connection or get_redis()
        return {
            entry.post_id: (
                live_state(entry, connection),
                read_stats(connection, entry.post_id),
            )
            for entry in entries
        }
    except redis.RedisError:
        return {entry.post_id: (entry.state, None) for entry in entries}


def iso(moment):
    """ISO 8601 in UTC for a datetime or a Unix time; None for nothing."""
    if moment is None or moment == "":
        return None
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(float(moment), tz=timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def recipients_by_channel(entry):
    """The snapshot's size per channel (a mapping in the outbox; a plain number has no split)."""
    recipients = getattr(entry, "recipients", None) or {}
    return dict(recipients) if hasattr(recipients, "items") else {}


def recipients_total(entry):
    recipients = getattr(entry, "recipients", None) or 0
    return (
        sum(recipients.values()) if hasattr(recipients, "values") else int(recipients)
    )


def channel_figures(entry, state, stats):
    """{channel: {queued, sent, retrying, gone, failed, first_sent, last_sent}}."""
    expected = recipients_by_channel(entry)
    channels = {}
    for channel in sorted(set(expected) | set(stats)):
        counters = stats.get(channel, {})
        figures = {name: int(counters.get(name, 0) or 0) for name in COUNTERS}
        if channel not in stats and state not in HANDED_OVER:
            # Not handed to the queue (yet): show what the snapshot holds. Once handed
            # over, Redis holds the counts; none there means they expired (30 days).
            figures["queued"] = int(expected.get(channel, 0))
        for (
            name
        ) in RECEIPTS:  # WhatsApp's delivery receipts, counted by Plone's webhook
            if name in counters:
                figures[name] = int(counters[name] or 0)
        figures["first_sent"] = iso(counters.get("first_sent"))
        figures["last_sent"] = iso(counters.get("last_sent"))
        channels[channel] = figures
    return channels


def post_status(entry, state, stats, now=None):
    """The status of one outbox entry in ``state`` (its live state); ``stats`` is
    ``read_stats`` of it, None when Redis could not be asked."""
    now = now or datetime.now(timezone.utc)
    channels = channel_figures(entry, state, stats or {})
    queued = sum(figures["queued"] for figures in channels.values())
    finished = sum(figures[name] for figures in channels.values() for name in FINAL)
    retrying = sum(figures["retrying"] for figures in channels.values())
    due = getattr(entry, "due", None)
    in_future = due is not None and due > now
    if state in OVER:
        done = True
    elif state == "waiting" or stats is None or in_future:
        done = False  # not handed over, Redis out of sight, or its time has not come
    else:
        done = finished >= queued and not retrying
    if queued:
        progress = min(1.0, finished / queued)
    else:
        progress = 1.0 if done and state not in OVER else 0.0
    return {
        "post_id": entry.post_id,
        "kind": entry.kind,
        "state": state,
        "reason": str(getattr(entry, "reason", "") or ""),
        "created": iso(entry.created),
        "due": iso(due),
        "recipients": recipients_total(entry),
        "channels": channels,
        "queued": queued,
        "finished": finished,
        "done": done,
        "progress": round(progress, 4),
        # Worth polling for: the numbers can still change soon.
        "active": not done and not in_future,
        "stats_available": stats is not None,
    }


def posts_status(entries, connection=None, now=None):
    """``post_status`` of each entry, with its live state and counters from Redis."""
    entries = list(entries)
    live = read_live(entries, connection)
    return [post_status(entry, *live[entry.post_id], now=now) for entry in entries]
