"""Site Setup > Messenger: the registry-backed settings form with delivery health above it."""

import redis
from plone.app.registry.browser.controlpanel import ControlPanelFormWrapper
from plone.app.registry.browser.controlpanel import RegistryEditForm
from plone.z3cform import layout
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from Products.statusmessages.interfaces import IStatusMessage
from z3c.form import button
from z3c.form import validator
from zope.i18n import translate
from zope.schema.interfaces import IURI

from collective.messenger import _
from collective.messenger.redis_client import get_redis
from collective.messenger.settings.access import MessengerSettings
from collective.messenger.settings.destinations import destination_fields
from collective.messenger.settings.destinations import refusal
from collective.messenger.settings.publish import publish_now
from collective.messenger.settings.schema import IMessengerSettings
from collective.messenger.settings.schema import REGISTRY_PREFIX
from collective.messenger.settings.schema import SECRET_FIELD_NAMES
from collective.messenger.settings.secrets import SecretStore
from collective.messenger.settings.status import channel_states
from collective.messenger.settings.status import delivery_health
from collective.messenger.settings.validation import SettingsError
from messenger_worker.connection import display_url
from messenger_worker.settings import secret_variable


class MessengerControlPanelForm(RegistryEditForm):
    schema = IMessengerSettings
    schema_prefix = REGISTRY_PREFIX
    label = _("Messenger")
    description = _(
        "Channels, topics and message templates for sending news, events and construction "
        "notices to citizens' messengers."
    )

    buttons = RegistryEditForm.buttons.copy()
    handlers = RegistryEditForm.handlers.copy()

    def getContent(self):
        return MessengerSettings()

    def update(self):
        super().update()
        # After update, when the field groups and their widgets exist.
        self._hide_secrets()
        self._name_fields_with_errors()

    def _name_fields_with_errors(self):
        """Say which tab and field is wrong: the error itself may sit on a hidden tab."""
        problems = [
            f"{translate(group.label, context=self.request)}: "
            f"{translate(error.widget.label, context=self.request)}"
            for group in self.groups
            for error in (group.widgets.errors or ())
            if error.widget is not None
        ]
        if problems:
            self.status = _(
                "form_errors_in",
                default="Please correct the marked fields: ${fields}.",
                mapping={"fields": "; ".join(problems)},
            )

    def _hide_secrets(self):
        secrets = SecretStore()
        for widget in self._secret_widgets():
            # Never send a secret back to the browser, not even one just typed.
            widget.value = ""
            name = widget.field.__name__
            if secrets.from_environment(name):
                hint = _(
                    "Set by the environment variable ${name}.",
                    mapping={"name": secret_variable(*name.split("_", 1))},
                )
            elif secrets.stored(name):
                hint = _("A value is stored. Leave empty to keep it.")
            else:
                hint = _("Not set.")
            widget.placeholder = translate(hint, context=self.request)

    def _secret_widgets(self):
        for group in [self, *self.groups]:
            for widget in group.widgets.values():
                if widget.field.__name__ in SECRET_FIELD_NAMES:
                    yield widget

    def applyChanges(self, data):
        # An empty secret field means "keep what is stored", as the field help says.
        for name in SECRET_FIELD_NAMES:
            if not data.get(name):
                data.pop(name, None)
        changes = super().applyChanges(data)
        self._warn_if_redis_down()
        return changes

    def _warn_if_redis_down(self):
        try:
            get_redis().ping()
        except redis.RedisError as error:
            IStatusMessage(self.request).addStatusMessage(
                _(
                    "warning_redis_down",
                    default="The settings are saved, but the delivery workers could not be "
                    'told: Redis at ${url} is not reachable (${error}). Press "Publish '
                    'settings to workers" once it is back.',
                    mapping={"url": display_url(), "error": str(error)},
                ),
                "warning",
            )

    @button.buttonAndHandler(_("Publish settings to workers"), name="publish")
    def handlePublish(self, action):
        messages = IStatusMessage(self.request)
        try:
            version = publish_now()
        except redis.RedisError as error:
            messages.addStatusMessage(
                _(
                    "error_publish",
                    default="Could not publish the settings: Redis at ${url} is not "
                    "reachable (${error}).",
                    mapping={"url": display_url(), "error": str(error)},
                ),
                "error",
            )
        else:
            messages.addStatusMessage(
                _(
                    "Settings version ${version} published to the workers.",
                    mapping={"version": version},
                ),
                "info",
            )
        self.request.response.redirect(self.request.getURL())

    def updateActions(self):
        super().updateActions()
        self.actions["publish"].addClass("btn btn-secondary")


class TokenDestinationValidator(validator.SimpleFieldValidator):
    """Refuses an API base URL the current user may not choose (see settings.destinations)."""

    def validate(self, value, force=False):
        super().validate(value, force)
        name = self.field.__name__
        if name in destination_fields():
            message = refusal(name, value, getattr(self.context, name))
            if message is not None:
                raise SettingsError(message)


# Registered in configure.zcml; the form's tabs have the settings object as their context.
validator.WidgetValidatorDiscriminators(
    TokenDestinationValidator, context=IMessengerSettings, field=IURI
)


class MessengerControlPanelView(ControlPanelFormWrapper):
    form = MessengerControlPanelForm
    index = ViewPageTemplateFile("templates/controlpanel.pt")

    def health(self):
        return delivery_health()

    def channels(self):
        return channel_states(self.request)

    def redis_url(self):
        return display_url()


MessengerControlPanel = layout.wrap_form(
    MessengerControlPanelForm, MessengerControlPanelView
)
