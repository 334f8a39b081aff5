"""``@controlpanels/messenger``: the Messenger settings through plone.restapi.

The stock registry serializer would read secrets from the registry and return them to
anyone allowed to open control panels. Here secrets come from the secret store, only a
Manager gets their values, everyone else sees whether one is set; a PATCH that sends a
secret empty or masked keeps the stored value, as the classic form does; and only a Manager
may point an API base URL at another host (``settings.destinations``).
"""

import json

from AccessControl import Unauthorized
from plone import api
from plone.restapi.controlpanels import RegistryConfigletPanel
from plone.restapi.controlpanels.interfaces import IControlpanel
from plone.restapi.deserializer import json_body
from plone.restapi.exceptions import DeserializationError
from plone.restapi.interfaces import IDeserializeFromJson
from plone.restapi.interfaces import IFieldDeserializer
from plone.restapi.interfaces import ISerializeToJson
from plone.restapi.serializer.controlpanels import get_jsonschema_for_controlpanel
from plone.restapi.serializer.controlpanels import SERVICE_ID
from plone.restapi.serializer.converters import json_compatible
from zExceptions import BadRequest
from zope.component import adapter
from zope.component import queryMultiAdapter
from zope.i18n import translate
from zope.interface import implementer
from zope.interface import Interface
from zope.interface import Invalid
from zope.schema import getFieldsInOrder
from zope.schema import ValidationError

from collective.messenger import _
from collective.messenger.interfaces import IMessengerLayer
from collective.messenger.settings.access import may_read_secrets
from collective.messenger.settings.access import MessengerSettings
from collective.messenger.settings.destinations import destination_fields
from collective.messenger.settings.destinations import refusal
from collective.messenger.settings.schema import IMessengerSettings
from collective.messenger.settings.schema import REGISTRY_PREFIX
from collective.messenger.settings.schema import SECRET_FIELD_NAMES

MANAGE_MESSENGER = "collective.messenger: Manage messenger"
SECRET_MASK = "********"


class IMessengerControlpanel(IControlpanel):
    """Marker for the Messenger control panel, to select its own (de)serializer."""


@adapter(Interface, IMessengerLayer)
@implementer(IMessengerControlpanel)
class MessengerControlpanel(RegistryConfigletPanel):
    schema = IMessengerSettings
    schema_prefix = REGISTRY_PREFIX
    configlet_id = "messenger"
    configlet_category_id = "Products"


def _check_permission(panel):
    if not api.user.has_permission(MANAGE_MESSENGER, obj=panel.context):
        raise Unauthorized("You are not allowed to manage the messenger settings.")


@implementer(ISerializeToJson)
@adapter(IMessengerControlpanel)
class MessengerControlpanelSerializeToJson:
    def __init__(self, controlpanel):
        self.controlpanel = controlpanel

    def __call__(self):
        panel = self.controlpanel
        _check_permission(panel)
        settings = MessengerSettings()
        show_secrets = may_read_secrets()
        data = {}
        for name, _field in getFieldsInOrder(IMessengerSettings):
            value = getattr(settings, name)
            if name in SECRET_FIELD_NAMES and not show_secrets:
                value = SECRET_MASK if value else ""
            data[name] = json_compatible(value)
        return {
            "@id": f"{panel.context.absolute_url()}/{SERVICE_ID}/{panel.__name__}",
            "title": panel.title,
            "group": panel.group,
            "schema": get_jsonschema_for_controlpanel(
                panel, panel.context, panel.request
            ),
            "data": data,
        }


@implementer(IDeserializeFromJson)
@adapter(IMessengerControlpanel)
class MessengerControlpanelDeserializeFromJson:
    def __init__(self, controlpanel):
        self.controlpanel = controlpanel
        self.request = controlpanel.request

    def __call__(self, mask_validation_errors=True):
        _check_permission(self.controlpanel)
        try:
            data = json_body(self.request)
        except DeserializationError:
            raise BadRequest(
                translate(
                    _("Send the settings as a JSON object."), context=self.request
                )
            )
        fields = dict(getFieldsInOrder(IMessengerSettings))
        errors = [
            {
                "field": name,
                "message": translate(
                    _('There is no setting called "${name}".', mapping={"name": name}),
                    context=self.request,
                ),
            }
            for name in data
            if name not in fields
        ]
        values = {}
        settings = MessengerSettings()
        destinations = destination_fields()
        for name, field in fields.items():
            if name not in data:
                continue
            if name in SECRET_FIELD_NAMES and data[name] in (None, "", SECRET_MASK):
                continue  # keep the stored secret
            deserializer = queryMultiAdapter(
                (field, self.controlpanel.context, self.request), IFieldDeserializer
            )
            try:
                value = deserializer(data[name])
                field.validate(value)
            except ValidationError as error:
                errors.append({"field": name, "message": error.doc()})
            except (ValueError, TypeError, Invalid) as error:
                errors.append({"field": name, "message": str(error)})
            else:
                # Only Managers decide where tokens are sent (settings.destinations).
                message = None
                if name in destinations:
                    message = refusal(name, value, getattr(settings, name))
                if message is None:
                    values[name] = value
                else:
                    errors.append({"field": name, "message": message})
        if errors:
            for error in errors:
                error["message"] = translate(error["message"], context=self.request)
            # JSON in the message, as plone.restapi clients (Volto) parse it, one per field.
            raise BadRequest(json.dumps(errors, ensure_ascii=False))
        for name, value in values.items():
            setattr(settings, name, value)
