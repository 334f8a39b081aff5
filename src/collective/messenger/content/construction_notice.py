"""The Construction Notice ("Baustellenmeldung"): where, when and how badly traffic is affected.

Title, description, lead image and text come from behaviors (see the FTI,
profiles/default/types/construction_notice.xml). The attribute names ``start``, ``end`` and
``location`` are the ones Plone's catalog (indexes/metadata of events) and the messenger
templates ({start}, {end}, {location}) read.
"""

from plone.autoform import directives
from plone.dexterity.content import Item
from plone.supermodel import model
from z3c.form.browser.radio import RadioFieldWidget
from zope import schema
from zope.interface import implementer
from zope.interface import Invalid
from zope.interface import invariant

from collective.messenger import _
from collective.messenger.content.dates import in_portal_timezone
from collective.messenger.content.dates import portal_timezone

PORTAL_TYPE = "construction_notice"
# The post kind of the messenger payload (messenger_worker.payload.KINDS).
POST_KIND = "construction_notice"


class EndBeforeStart(Invalid):
    """The end of a construction notice is before its start."""


class IConstructionNotice(model.Schema):
    """Schema of the Construction Notice."""

    location = schema.TextLine(
        title=_("Location / streets"),
        description=_(
            "Streets and section, e.g. Hauptstraße between Marktplatz and Bahnhof."
        ),
        required=True,
    )

    start = schema.Datetime(
        title=_("Start"),
        description=_("When the work begins and traffic is affected."),
        required=True,
    )
    directives.widget("start", default_timezone=portal_timezone)

    end = schema.Datetime(
        title=_("End"),
        description=_(
            "When the work is expected to end. Leave empty if not known yet."
        ),
        required=False,
    )
    directives.widget("end", default_timezone=portal_timezone)

    impact = schema.Choice(
        title=_("Impact"),
        description=_("How much traffic is affected."),
        vocabulary="collective.messenger.Impacts",
        required=True,
    )
    # Four options: all visible at once, and nothing preselected, so the editor chooses.
    directives.widget("impact", RadioFieldWidget)

    detour = schema.Text(
        title=_("Detour"),
        description=_(
            "How to get around the construction site, if there is a signposted detour."
        ),
        required=False,
    )

    @invariant
    def end_not_before_start(data):
        start, end = getattr(data, "start", None), getattr(data, "end", None)
        if start and end and in_portal_timezone(end) < in_portal_timezone(start):
            raise EndBeforeStart(
                _("The end must not be before the start. Please check the dates.")
            )


@implementer(IConstructionNotice)
class ConstructionNotice(Item):
    """A construction notice; fields are plain attributes (see IConstructionNotice)."""
