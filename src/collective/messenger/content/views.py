"""The Construction Notice page and the ``@@construction-notices`` listing."""

from datetime import datetime
from datetime import timezone

from plone import api
from Products.Five.browser import BrowserView

from collective.messenger import _
from collective.messenger.content.construction_notice import PORTAL_TYPE
from collective.messenger.content.dates import format_datetime
from collective.messenger.content.dates import in_portal_timezone
from collective.messenger.content.impacts import impact_badge_class
from collective.messenger.content.impacts import impact_title


def period(start, end):
    """Start and end as the page shows them; no end means "until further notice"."""
    return {
        "start": format_datetime(start),
        "end": format_datetime(end) if end else None,
    }


class ConstructionNoticeView(BrowserView):
    """Default view: dates, impact badge, location, detour and text (the lead image is the
    ``contentleadimage`` viewlet above the title, as on news items)."""

    def period(self):
        return period(self.context.start, self.context.end)

    def impact(self):
        value = getattr(self.context, "impact", None)
        return (
            {"title": impact_title(value), "css": impact_badge_class(value)}
            if value
            else None
        )

    def detour_lines(self):
        return [
            line for line in (self.context.detour or "").splitlines() if line.strip()
        ]

    def text(self):
        text = getattr(self.context, "text", None)
        return text.output_relative_to(self.context) if text else None


class ConstructionNoticesListing(BrowserView):
    """Construction notices below a folder (any depth) or in a collection's results:
    current and upcoming ones first, by start; finished ones after, latest first."""

    def brains(self):
        from plone.app.contenttypes.interfaces import ICollection

        if ICollection.providedBy(self.context):
            from plone.app.contenttypes.behaviors.collection import (
                ICollection as ICollectionBehavior,
            )

            results = ICollectionBehavior(self.context).results(
                batch=False, brains=True
            )
            return [brain for brain in results if brain.portal_type == PORTAL_TYPE]
        path = "/".join(self.context.getPhysicalPath())
        return api.content.find(path=path, portal_type=PORTAL_TYPE, sort_on="start")

    def entry(self, brain):
        impact = brain.impact or None
        return {
            "title": brain.Title,
            "description": brain.Description,
            "url": brain.getURL(),
            "location": brain.location,
            "impact": {"title": impact_title(impact), "css": impact_badge_class(impact)}
            if impact
            else None,
            **period(brain.start, brain.end),
        }

    def groups(self):
        now = datetime.now(timezone.utc)
        current, finished = [], []
        for brain in self.brains():
            if not isinstance(brain.start, datetime):
                continue  # not indexed with its dates: nothing sensible to show
            end = brain.end if isinstance(brain.end, datetime) else None
            (
                finished
                if end is not None and in_portal_timezone(end) < now
                else current
            ).append(brain)
        current.sort(key=lambda brain: in_portal_timezone(brain.start))
        finished.sort(key=lambda brain: in_portal_timezone(brain.end), reverse=True)
        return {"current": current, "finished": finished}

    def sections(self):
        """What the template shows: the current section always (with a note when empty),
        the finished one only when there is something in it."""
        groups = self.groups()
        sections = [
            {
                "id": "current",
                "title": _("Current and upcoming construction sites"),
                "empty": _("There are no current or upcoming construction sites."),
                "entries": [self.entry(brain) for brain in groups["current"]],
            }
        ]
        if groups["finished"]:
            sections.append({
                "id": "finished",
                "title": _("Finished construction sites"),
                "empty": None,
                "entries": [self.entry(brain) for brain in groups["finished"]],
            })
        return sections
