"""1003: Redis as a trust boundary (issue 9), one step for the whole issue.

Registers the settings schema again, so that every setting added since 1002 gets its record
while existing values are kept (re-importing registry.xml would reset topics and templates);
takes the role "Messenger Cron" and the permission "collective.messenger: Run maintenance"
from rolemap.xml; and publishes the settings again, so that a document published by an
older version, which could still carry secrets from Zope's environment or the webhook
secrets, is replaced.
"""

import os

from plone import api
from plone.registry.interfaces import IRegistry
from Products.GenericSetup.rolemap import RolemapImportConfigurator
from zope.component import getUtility

from collective.messenger.settings.publish import publish_after_commit
from collective.messenger.settings.schema import IMessengerSettings
from collective.messenger.settings.schema import REGISTRY_PREFIX
from collective.messenger.settings.schema import SECRET_FIELD_NAMES

ROLEMAP = os.path.join(
    os.path.dirname(__file__), os.pardir, "profiles", "default", "rolemap.xml"
)
NEW_PERMISSIONS = ("collective.messenger: Run maintenance",)


def register_settings(context):
    getUtility(IRegistry).registerInterface(
        IMessengerSettings, omit=SECRET_FIELD_NAMES, prefix=REGISTRY_PREFIX
    )


def import_rolemap(context):
    """The roles and the new permission of rolemap.xml, nothing else: importing the whole
    rolemap step would also reset the roles a site chose for the older permissions."""
    site = api.portal.get()
    with open(ROLEMAP, encoding="utf-8") as file:
        rolemap = RolemapImportConfigurator(site).parseXML(file.read())
    missing = [role for role in rolemap["roles"] if role not in site.valid_roles()]
    if missing:
        site.__ac_roles__ = tuple(
            sorted(set(getattr(site, "__ac_roles__", ())) | set(missing))
        )
    for permission in rolemap["permissions"]:
        if permission["name"] in NEW_PERMISSIONS:
            site.manage_permission(
                permission["name"], permission.get("roles", []), permission["acquire"]
            )


def publish_settings(context):
    publish_after_commit()
