"""``collective.messenger.push``: what to send where when an item is published.

A schema-only behavior: the values are plain attributes of the item, and an item with the
behavior provides ``IMessengerPush`` itself, so ``IMessengerPush(item)`` is the item.
``IMessengerPushable`` is the bare marker (a base of the schema) for event subscribers.
"""

from plone.autoform import directives
from plone.autoform.interfaces import IFormFieldProvider
from plone.supermodel import model
from z3c.form.browser.checkbox import CheckBoxFieldWidget
from z3c.form.browser.checkbox import SingleCheckBoxFieldWidget
from zope import schema
from zope.interface import Interface
from zope.interface import provider

from collective.messenger import _

TEASER_MAX_LENGTH = 500
ELLIPSIS = "…"


class IMessengerPushable(Interface):
    """Marker: content that can be sent to messengers (has the push behavior)."""


@provider(IFormFieldProvider)
class IMessengerPush(model.Schema, IMessengerPushable):
    """Messenger settings of one item."""

    model.fieldset(
        "messenger",
        label=_("Messenger"),
        fields=[
            "messenger_topics",
            "messenger_send",
            "messenger_teaser",
            "messenger_urgent",
        ],
    )

    messenger_topics = schema.List(
        title=_("Messenger topics"),
        description=_(
            "Citizens who subscribed to one of these topics get this item on their messenger "
            "when it is published. Choose none to send nothing."
        ),
        value_type=schema.Choice(vocabulary="collective.messenger.Topics"),
        required=False,
        default=[],
        missing_value=[],
    )
    directives.widget("messenger_topics", CheckBoxFieldWidget)

    messenger_send = schema.Bool(
        title=_("Send on publish"),
        description=_(
            "Send the message the first time the item is published. Switch off to publish "
            "on the website only."
        ),
        required=False,
        default=True,
    )
    directives.widget("messenger_send", SingleCheckBoxFieldWidget)

    messenger_teaser = schema.Text(
        title=_("Messenger teaser"),
        description=_(
            "The short text of the message, at most 500 characters. Leave empty to use the "
            "summary (description) of the item."
        ),
        required=False,
        max_length=TEASER_MAX_LENGTH,
    )

    messenger_urgent = schema.Bool(
        title=_("Urgent"),
        description=_(
            "Send ahead of other messages and never hold it back for a digest. Use for "
            "warnings and short-notice closures only."
        ),
        required=False,
        default=False,
    )
    directives.widget("messenger_urgent", SingleCheckBoxFieldWidget)


def shorten(text, limit=TEASER_MAX_LENGTH):
    """``text`` cut to ``limit`` characters at a word boundary, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    # Keep whole words unless a single "word" fills most of the limit (a long URL).
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def teaser_for(context):
    """The message teaser: the editor's teaser, else the item's description (shortened to 500)."""
    push = IMessengerPush(context, None)
    teaser = ((push.messenger_teaser if push is not None else None) or "").strip()
    if teaser:
        return teaser
    description = (getattr(context, "description", None) or "").strip()
    return shorten(description)
