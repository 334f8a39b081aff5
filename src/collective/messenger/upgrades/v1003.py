"""1003: Redis as a trust boundary (issue 9).

Registers the settings schema again, so that every setting added since 1002 gets its record
while existing values are kept (re-importing registry.xml would reset topics and templates);
imports the rolemap for the permission "collective.messenger: Run maintenance" and the role
"Messenger Cron"; and publishes the settings again, so that a document published by an
older version, which could still carry secrets from Zope's environment, is replaced.
"""

from plone import api
from plone.registry.interfaces import IRegistry
from zope.component import getUtility

from collective.messenger.settings.publish import publish_after_commit
from collective.messenger.settings.schema import IMessengerSettings
from collective.messenger.settings.schema import REGISTRY_PREFIX
from collective.messenger.settings.schema import SECRET_FIELD_NAMES

PROFILE = "profile-collective.messenger:default"


def register_settings(context):
    getUtility(IRegistry).registerInterface(
        IMessengerSettings, omit=SECRET_FIELD_NAMES, prefix=REGISTRY_PREFIX
    )


def import_rolemap(context):
    api.portal.get_tool("portal_setup").runImportStepFromProfile(
        PROFILE, "rolemap", run_dependencies=False
    )


def publish_settings(context):
    publish_after_commit()
