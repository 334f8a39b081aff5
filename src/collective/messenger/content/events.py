"""Keep start and end in the site's time zone, whoever set them.

The edit form shows and reads wall-clock time in the site's zone; plone.restapi stores a new
date in UTC. A notice created through REST and then saved in the form would move by the UTC
offset, so the dates are converted (same moment, site's zone) whenever the notice is added or
changed.
"""

from collective.messenger.content.dates import in_portal_timezone


def normalise_dates(notice, event=None):
    for name in ("start", "end"):
        value = getattr(notice, name, None)
        if value is None:
            continue
        local = in_portal_timezone(value)
        if value.tzinfo is None or local.tzinfo.zone != getattr(
            value.tzinfo, "zone", None
        ):
            setattr(notice, name, local)
