"""``collective.messenger.Topics``: the topics configured in the control panel, for forms."""

from zope.interface import provider
from zope.schema.interfaces import IVocabularyFactory
from zope.schema.vocabulary import SimpleTerm
from zope.schema.vocabulary import SimpleVocabulary

from collective.messenger.signup import offer


@provider(IVocabularyFactory)
def topics_vocabulary(context=None):
    """One term per configured topic: value and token the topic id, title its title."""
    return SimpleVocabulary([
        SimpleTerm(
            value=topic["id"], token=topic["id"], title=topic["title"] or topic["id"]
        )
        for topic in offer.offered_topics()
    ])
