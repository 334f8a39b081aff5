"""Words and times for the status pages: post kinds, states, channel names, local times."""

from datetime import datetime
from datetime import timezone

from plone import api
from zope.i18n import translate

from collective.messenger import _
from collective.messenger.settings.schema import CHANNEL_TITLES

KIND_TITLES = {
    "initial": _("kind_initial", default="First post"),
    "update": _("kind_update", default="Update"),
    "again": _("kind_again", default="Sent again"),
}

STATE_TITLES = {
    "waiting": _(
        "state_waiting",
        default="Waiting for the delivery queue: will be sent as soon as it is reachable",
    ),
    "queued": _("state_queued", default="Sending"),
    "done": _("state_done", default="Sent"),
    "scheduled": _("state_scheduled", default="Scheduled"),
    "cancelled": _("state_cancelled", default="Cancelled"),
    "skipped": _("state_skipped", default="Not sent"),
    "unknown": _(
        "state_unknown", default="Delivery figures unavailable: Redis is not reachable"
    ),
}

# Bootstrap colours of the state badges.
STATE_BADGES = {
    "waiting": "bg-warning text-dark",
    "queued": "bg-info text-dark",
    "done": "bg-success",
    "scheduled": "bg-secondary",
    "cancelled": "bg-secondary",
    "skipped": "bg-secondary",
    "unknown": "bg-warning text-dark",
}


def kind_title(kind):
    return KIND_TITLES.get(kind, kind)


REASON_TITLES = {
    "retracted": _(
        "reason_retracted", default="The item was retracted before its time."
    ),
    "expired": _("reason_expired", default="The item has expired."),
    "editor": _("reason_editor", default="An editor cancelled sending."),
    "stale": _(
        "reason_stale",
        default="It waited more than three days for the delivery queue and is no news any more.",
    ),
    # Set aside by the outbox drain (publishing.outbox.UNREADABLE); the dashboard says why.
    "unreadable": _(
        "reason_unreadable",
        default="Its stored message cannot be read; the messenger dashboard says why.",
    ),
}


def state_key(status):
    """The label to show: a handed-over post is sending, scheduled or done (sent)."""
    state = status["state"]
    if state in ("queued", "scheduled"):
        if not status["stats_available"]:
            return "unknown"
        if status["done"]:
            return "done"
        return "queued" if status["active"] else "scheduled"
    return state if state in STATE_TITLES else "unknown"


def reason_title(reason):
    return REASON_TITLES.get(reason, reason)


def state_title(status):
    return STATE_TITLES[state_key(status)]


def channel_title(channel, request):
    title = CHANNEL_TITLES.get(channel)
    return translate(title, context=request) if title is not None else channel


def site_timezone():
    try:
        from plone.app.event.base import default_timezone

        return default_timezone(as_tzinfo=True)
    except Exception:  # no portal timezone set: show UTC rather than fail
        return timezone.utc


def site_timezone_name():
    """The site's time zone (plone.portal_timezone), e.g. "Europe/Berlin"; "UTC" without one."""
    zone = site_timezone()
    return getattr(zone, "key", None) or getattr(zone, "zone", None) or "UTC"


def as_datetime(moment):
    """An aware datetime from a datetime, a Unix time or an ISO string; None for nothing."""
    if moment is None or moment == "":
        return None
    if isinstance(moment, int | float):
        return datetime.fromtimestamp(float(moment), tz=timezone.utc)
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def format_time(moment, request=None):
    """A moment in the site's time zone, in the reader's language ("" for nothing)."""
    moment = as_datetime(moment)
    if moment is None:
        return ""
    local = moment.astimezone(site_timezone()).replace(tzinfo=None)
    return api.portal.get_localized_time(datetime=local, long_format=True)
