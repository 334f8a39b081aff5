"""The signup portlet: the signup form in a column, with topics preselected per assignment."""

import hashlib

from plone.app.portlets.portlets import base
from plone.autoform import directives
from plone.portlets.interfaces import IPortletDataProvider
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from z3c.form.browser.checkbox import CheckBoxFieldWidget
from zope import schema
from zope.interface import implementer

from collective.messenger import _
from collective.messenger.browser.manage import ManageView
from collective.messenger.browser.signup import SignupView
from collective.messenger.browser.signup_form import SignupFormFragment
from collective.messenger.signup import offer


class ISignupPortlet(IPortletDataProvider):
    """What an editor sets per portlet assignment."""

    header = schema.TextLine(
        title=_("Portlet header"),
        description=_("Shown above the form; leave empty for no header."),
        required=False,
    )

    directives.widget("topics", CheckBoxFieldWidget)
    topics = schema.List(
        title=_("Preselected topics"),
        description=_(
            "These topics are ticked when the form appears; citizens can change them."
        ),
        value_type=schema.Choice(vocabulary="collective.messenger.Topics"),
        required=False,
        default=[],
    )

    show_descriptions = schema.Bool(
        title=_("Show topic descriptions"),
        description=_("Show each topic's description below its title."),
        required=False,
        default=True,
    )


@implementer(ISignupPortlet)
class Assignment(base.Assignment):
    header = ""
    topics = ()
    show_descriptions = True

    def __init__(self, header="", topics=(), show_descriptions=True):
        self.header = header or ""
        self.topics = list(topics or ())
        self.show_descriptions = bool(show_descriptions)

    @property
    def title(self):
        """The name in @@manage-portlets."""
        return self.header or _("Messenger signup")


class Renderer(base.Renderer):
    render = ViewPageTemplateFile("templates/portlet.pt")

    @property
    def available(self):
        # Nothing to sign up for without an offered channel; and on the signup and manage
        # pages a second form in the column would only confuse.
        own_pages = (SignupView, ManageView)
        if isinstance(self.view, own_pages) or isinstance(
            self.request.get("PUBLISHED"), own_pages
        ):
            return False
        return bool(offer.offered_channels())

    def prefix(self):
        """Element ids unique per portlet, also with several signup portlets on one page."""
        key = getattr(self, "__portlet_metadata__", {}).get("hash") or repr(
            self.data.__name__
        )
        return "messenger-portlet-" + hashlib.sha1(str(key).encode()).hexdigest()[:8]

    def form_html(self):
        return SignupFormFragment(
            self.context,
            self.request,
            path="portlet",
            prefix=self.prefix(),
            preselected=self.data.topics,
            show_descriptions=self.data.show_descriptions,
        )()


class AddForm(base.AddForm):
    schema = ISignupPortlet
    label = _("Add messenger signup portlet")
    description = _("Lets citizens subscribe to topics on their messenger.")

    def create(self, data):
        return Assignment(**data)


class EditForm(base.EditForm):
    schema = ISignupPortlet
    label = _("Edit messenger signup portlet")
    description = _("Lets citizens subscribe to topics on their messenger.")
