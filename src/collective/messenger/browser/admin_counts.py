"""The numbers of the subscriber overview, from the store's counters: no record is read and
no address is ever part of the result."""

from datetime import timedelta

from collective.messenger import _
from collective.messenger.subscribers.model import ACTIVE
from collective.messenger.subscribers.model import CHANNELS
from collective.messenger.subscribers.model import PENDING
from collective.messenger.subscribers.model import STATES
from collective.messenger.subscribers.model import UNREACHABLE
from collective.messenger.subscribers.model import UNSUBSCRIBED

CHART_DAYS = 30

STATE_TITLES = {
    PENDING: _("state_pending", default="Unconfirmed"),
    ACTIVE: _("state_active", default="Active"),
    UNSUBSCRIBED: _("state_unsubscribed", default="Unsubscribed"),
    UNREACHABLE: _("state_unreachable", default="Unreachable"),
}


def empty_counts():
    """What ``store.counts()`` says about a store without anyone (or a site without one)."""
    return {
        "total": 0,
        "states": dict.fromkeys(STATES, 0),
        "channels": {channel: dict.fromkeys(STATES, 0) for channel in CHANNELS},
        "topics": {},
        "topic_channels": {},
    }


def topic_rows(counts, offered):
    """Per topic: active subscribers per channel and in all. Offered topics first, in the
    control panel's order; then topics that still have subscribers but are no longer
    offered (``offered`` False), so nobody disappears from the statistics.

    ``offered``: [{"id", "title", ...}] as ``offer.offered_topics()`` returns them.
    """
    rows = []
    for topic in offered:
        rows.append(_topic_row(counts, topic["id"], topic["title"], True))
    known = {topic["id"] for topic in offered}
    for topic_id in sorted(counts["topics"]):
        if topic_id not in known and any(counts["topics"][topic_id].values()):
            rows.append(_topic_row(counts, topic_id, topic_id, False))
    return rows


def _topic_row(counts, topic_id, title, offered):
    per_channel = counts["topic_channels"].get(topic_id, {})
    return {
        "id": topic_id,
        "title": title,
        "offered": offered,
        "channels": [
            per_channel.get(channel, {}).get(ACTIVE, 0) for channel in CHANNELS
        ],
        "active": counts["topics"].get(topic_id, {}).get(ACTIVE, 0),
        "pending": counts["topics"].get(topic_id, {}).get(PENDING, 0),
    }


def channel_rows(counts):
    """Per channel: subscribers per state (in STATES order) and in all."""
    return [
        {
            "id": channel,
            "states": [counts["channels"][channel][state] for state in STATES],
            "total": sum(counts["channels"][channel].values()),
        }
        for channel in CHANNELS
    ]


def daily_series(daily, today, days=CHART_DAYS):
    """The chart's days, oldest first: [{"day": date, "signups": n, "leavers": n}].

    Signups are confirmations; leavers are unsubscriptions and addresses the platform
    reported gone. Days the store has no counter for count as 0.
    """
    series = []
    for offset in range(days - 1, -1, -1):
        day = today - timedelta(days=offset)
        events = daily.get(day.isoformat(), {})
        series.append({
            "day": day,
            "signups": events.get("confirmed", 0),
            "leavers": events.get(UNSUBSCRIBED, 0) + events.get(UNREACHABLE, 0),
        })
    return series


def chart_since(today, days=CHART_DAYS):
    return today - timedelta(days=days - 1)
