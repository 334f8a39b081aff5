"""Install and uninstall steps that GenericSetup XML cannot express."""

import logging

import redis
import transaction
from plone import api
from plone.base.interfaces import INonInstallable
from zope.interface import implementer

from collective.messenger.settings.publish import publish_after_commit
from collective.messenger.settings.secrets import SecretStore
from collective.messenger.subscribers.access import get_store
from messenger_worker.connection import display_url
from messenger_worker.keys import SETTINGS_KEY

log = logging.getLogger("collective.messenger")

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
    # Settings go; subscribers (stored apart from settings) stay for a reinstall. To erase
    # them too, "Erase all messenger data" (@@messenger-erase) comes before uninstalling.
    SecretStore().clear()
    # The settings published for the workers hold the stored secrets: they go with them.
    transaction.get().addAfterCommitHook(_unpublish_settings)


def _unpublish_settings(succeeded):
    if not succeeded:
        return
    from collective.messenger.redis_client import get_redis

    try:
        get_redis().delete(SETTINGS_KEY)
    except redis.RedisError as error:
        log.warning(
            "The add-on was uninstalled, but %s at %s still holds the published settings with "
            "their secrets (%s): delete it with redis-cli DEL %s.",
            SETTINGS_KEY,
            display_url(),
            error,
            SETTINGS_KEY,
        )
