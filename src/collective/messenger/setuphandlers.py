"""Install and uninstall steps that GenericSetup XML cannot express."""

from plone import api
from plone.base.interfaces import INonInstallable
from zope.interface import implementer

from collective.messenger.settings.publish import publish_after_commit
from collective.messenger.settings.secrets import SecretStore
from collective.messenger.subscribers.access import get_store

BEHAVIOR_PREFIX = "collective.messenger."


@implementer(INonInstallable)
class HiddenProfiles:
    def getNonInstallableProfiles(self):
        return ["collective.messenger:uninstall"]


def post_install(context):
    # Running workers get the installed defaults without anyone having to press Save.
    publish_after_commit()
    # Created now, not by the first burst of signups, which would all conflict on it.
    get_store(api.portal.get())


def remove_behaviors():
    """Take this add-on's behaviors off every content type (admins may have added them)."""
    for fti in api.portal.get_tool("portal_types").objectValues():
        behaviors = getattr(fti, "behaviors", None)
        if behaviors is None:
            continue
        kept = tuple(name for name in behaviors if not name.startswith(BEHAVIOR_PREFIX))
        if kept != tuple(behaviors):
            fti.behaviors = kept


def uninstall(context):
    remove_behaviors()
    # Settings go; subscribers (stored apart from settings) stay for a reinstall.
    SecretStore().clear()
