"""Sample content and subscribers for the demo's "Musterstadt" (German, as a real town's site).

The items are published before any subscriber exists, so the demo starts without posts;
the sample subscribers then follow topics on the sandbox's phones, and the next item an
admin publishes reaches them.
"""

from datetime import datetime
from datetime import timedelta

import pytz
from plone import api

from collective.messenger.subscribers import Consent
from collective.messenger.subscribers import get_store

# (channel, address, topics): addresses the sandbox's phone pages show.
SAMPLE_SUBSCRIBERS = (
    ("telegram", "1001", ("baustellen-verkehr", "warnungen")),
    ("telegram", "1002", ("veranstaltungen",)),
    (
        "telegram",
        "1003",
        ("baustellen-verkehr", "rathaus-aktuell", "veranstaltungen", "warnungen"),
    ),
    ("whatsapp", "4915112340001", ("baustellen-verkehr",)),
    (
        "signal",
        "+4915112340002",
        ("baustellen-verkehr", "warnungen", "rathaus-aktuell"),
    ),
)


TIMEZONE = "Europe/Berlin"


def _at(days, hour):
    """``hour`` o'clock in Musterstadt, ``days`` from today: aware, as Plone's event views
    need it (a naive start breaks the event view with "can't compare offset-naive and
    offset-aware datetimes")."""
    zone = pytz.timezone(TIMEZONE)
    day = datetime.now(zone).replace(
        hour=hour, minute=0, second=0, microsecond=0, tzinfo=None
    )
    return zone.localize(day + timedelta(days=days))


def make_dates_aware(site):
    """Heal sample events of an earlier demo that were made with naive dates; returns how many."""
    zone = pytz.timezone(TIMEZONE)
    healed = 0
    for brain in api.content.find(
        context=site, portal_type=["Event", "construction_notice"]
    ):
        item = brain.getObject()
        changed = False
        for name in ("start", "end"):
            value = getattr(item, name, None)
            if isinstance(value, datetime) and value.tzinfo is None:
                setattr(item, name, zone.localize(value))
                changed = True
        if changed:
            item.reindexObject()
            healed += 1
    return healed


def _item(site, type_name, title, description, topics, **values):
    item = api.content.create(
        container=site, type=type_name, title=title, description=description, **values
    )
    item.messenger_topics = list(topics)
    api.content.transition(obj=item, transition="publish")
    return item


def add_sample_content(site):
    _item(
        site,
        "News Item",
        "Neuer Spielplatz im Stadtpark eröffnet",
        "Rutsche, Kletterturm und Wasserspiel: der neue Spielplatz ist ab sofort geöffnet.",
        ("rathaus-aktuell",),
    )
    _item(
        site,
        "News Item",
        "Unwetterwarnung: Starkregen am Wochenende",
        "Der Deutsche Wetterdienst warnt vor Starkregen. Keller und Tiefgaragen sichern.",
        ("warnungen",),
        messenger_urgent=True,
    )
    _item(
        site,
        "Event",
        "Stadtfest Musterstadt",
        "Drei Tage Musik, Märkte und Mitmachaktionen rund um den Marktplatz.",
        ("veranstaltungen",),
        start=_at(14, 10),
        end=_at(16, 22),
        location="Marktplatz",
    )
    _item(
        site,
        "construction_notice",
        "Kanalarbeiten in der Bahnhofstraße",
        "Wegen Kanalarbeiten ist die Bahnhofstraße nur einspurig befahrbar.",
        ("baustellen-verkehr",),
        start=_at(3, 7),
        end=_at(24, 17),
        location="Bahnhofstraße zwischen Post und Bahnhof",
        impact="lane_restriction",
        detour="Über die Goethestraße",
    )


def add_sample_subscribers(site):
    store = get_store(site)
    for channel, address, topics in SAMPLE_SUBSCRIBERS:
        if store.by_address(channel, address) is not None:
            continue
        pending = store.add_pending(
            channel,
            list(topics),
            "de",
            Consent(privacy_version="demo", path="page"),
            address=address if channel in ("signal", "threema") else None,
        )
        store.activate(
            pending, address=None if channel in ("signal", "threema") else address
        )
