"""``collective.messenger.Impacts``: how badly a construction site affects traffic."""

from zope.interface import provider
from zope.schema.interfaces import IVocabularyFactory
from zope.schema.vocabulary import SimpleTerm
from zope.schema.vocabulary import SimpleVocabulary

from collective.messenger import _

# value, title, Bootstrap badge class (Barceloneta ships Bootstrap 5): red for a full
# closure down to grey for information only, so the listing reads at a glance.
IMPACTS = (
    ("full_closure", _("Full closure"), "text-bg-danger"),
    ("partial_closure", _("Partial closure"), "text-bg-warning"),
    ("lane_restriction", _("Lane restriction"), "text-bg-info"),
    ("information_only", _("Information only"), "text-bg-secondary"),
)
BADGE_CLASSES = {value: css for value, _title, css in IMPACTS}
TITLES = {value: title for value, title, _css in IMPACTS}


@provider(IVocabularyFactory)
def impacts_vocabulary(context=None):
    return SimpleVocabulary([
        SimpleTerm(value=value, token=value, title=title)
        for value, title, _css in IMPACTS
    ])


def impact_title(value):
    """The translatable title of an impact value (the raw value if unknown)."""
    return TITLES.get(value, value or "")


def impact_badge_class(value):
    return BADGE_CLASSES.get(value, "text-bg-secondary")
