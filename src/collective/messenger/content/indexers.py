"""Search finds a construction notice by its street and its detour, not only by its title."""

from plone.app.contenttypes.indexers import SearchableText
from plone.base.utils import safe_text
from plone.indexer import indexer

from collective.messenger.content.construction_notice import IConstructionNotice


@indexer(IConstructionNotice)
def searchable_text(obj):
    return " ".join((
        SearchableText(obj),
        safe_text(obj.location or ""),
        safe_text(obj.detour or ""),
    ))
