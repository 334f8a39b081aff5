"""1002: publishing. The Construction Notice type, the messenger behavior on News Item and
Event, the ``impact`` index, and the new setting "Public workflow states"."""

from plone import api
from plone.registry import field
from plone.registry import Record
from plone.registry.interfaces import IRegistry
from zope.component import getUtility

from collective.messenger.settings.schema import IMessengerSettings
from collective.messenger.settings.schema import REGISTRY_PREFIX
from collective.messenger.settings.schema import SECRET_FIELD_NAMES

PROFILE = "profile-collective.messenger:default"
ICON_RECORD = "plone.icon.contenttype/construction_notice"


def add_settings_and_icon(context):
    registry = getUtility(IRegistry)
    # Adds the new records and keeps every existing value (re-importing registry.xml would
    # reset the topics and templates to the defaults).
    registry.registerInterface(
        IMessengerSettings, omit=SECRET_FIELD_NAMES, prefix=REGISTRY_PREFIX
    )
    if ICON_RECORD not in registry.records:
        registry.records[ICON_RECORD] = Record(
            field.TextLine(title="Construction Notice"),
            "++plone++bootstrap-icons/cone-striped.svg",
        )


def import_types_and_catalog(context):
    setup = api.portal.get_tool("portal_setup")
    for step in ("typeinfo", "catalog", "repositorytool", "difftool"):
        setup.runImportStepFromProfile(PROFILE, step, run_dependencies=False)
    api.portal.get_tool("portal_catalog").manage_reindexIndex(ids=["impact"])
