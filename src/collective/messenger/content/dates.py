"""Dates of construction notices: stored in the site's time zone, shown in the reader's language."""

from datetime import datetime

import pytz
from plone import api


def portal_timezone(context=None):
    """The site's time zone name (control panel "Date and Time"), UTC if unset.

    The form stores start and end as aware datetimes in this zone, so the catalog, the
    messages and the pages agree on the wall-clock time whoever edited the notice.
    """
    name = api.portal.get_registry_record("plone.portal_timezone", default=None)
    try:
        return pytz.timezone(name).zone if name else "UTC"
    except pytz.UnknownTimeZoneError:
        return "UTC"


def in_portal_timezone(value):
    """``value`` (aware or naive datetime) as wall-clock time of the site's zone."""
    zone = pytz.timezone(portal_timezone())
    if value.tzinfo is None:
        return zone.localize(value)
    return value.astimezone(zone)


def format_datetime(value):
    """Localized date and time, e.g. "07.04.2025 07:00" in German; date only at midnight."""
    if not isinstance(value, datetime):
        return ""
    # Naive wall-clock time: Plone's formatter would turn an aware value into server time.
    value = in_portal_timezone(value).replace(tzinfo=None)
    if (value.hour, value.minute) == (0, 0):
        return api.portal.get_localized_time(value.date())
    return api.portal.get_localized_time(value, long_format=True)
