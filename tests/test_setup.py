"""Installing and uninstalling the add-on."""

import pytest
from plone import api
from plone.browserlayer.utils import registered_layers
from plone.registry.interfaces import IRegistry
from zope.annotation.interfaces import IAnnotations
from zope.component import getUtility

from collective.messenger.interfaces import IMessengerLayer
from collective.messenger.settings.schema import IMessengerSettings
from collective.messenger.settings.secrets import SecretStore

PACKAGE = "collective.messenger"


@pytest.fixture
def installer(portal):
    return api.content.get_view("installer", portal, portal.REQUEST)


def test_installed(installer):
    assert installer.is_product_installed(PACKAGE)


def test_profile_version(portal):
    setup = api.portal.get_tool("portal_setup")
    assert setup.getLastVersionForProfile(f"{PACKAGE}:default") == ("1003",)


def test_browser_layer(portal):
    assert IMessengerLayer in registered_layers()


def test_controlpanel_configlet(portal):
    actions = [
        a.getId() for a in api.portal.get_tool("portal_controlpanel").listActions()
    ]
    assert "messenger" in actions


def test_permissions_roles(portal):
    def roles(permission):
        return {
            r["name"] for r in portal.rolesOfPermission(permission) if r["selected"]
        }

    assert roles("collective.messenger: Manage messenger") == {
        "Manager",
        "Site Administrator",
    }
    assert roles("collective.messenger: View delivery status") == {
        "Manager",
        "Site Administrator",
        "Editor",
        "Reviewer",
    }
    assert roles("collective.messenger: Run maintenance") == {
        "Manager",
        "Site Administrator",
        "Messenger Cron",
    }


def test_german_default_topics(portal):
    topics = api.portal.get_registry_record("collective.messenger.topics")
    titles = [line.split("|")[1].strip() for line in topics]
    assert titles == [
        "Baustellen & Verkehr",
        "Veranstaltungen",
        "Rathaus aktuell",
        "Warnungen",
    ]


def test_secrets_are_not_registry_records(portal):
    registry = getUtility(IRegistry)
    assert "collective.messenger.telegram_enabled" in registry.records
    assert "collective.messenger.telegram_bot_token" not in registry.records
    assert registry.forInterface(IMessengerSettings, prefix=PACKAGE, check=False)


class TestUninstall:
    @pytest.fixture(autouse=True)
    def uninstalled(self, portal, installer):
        SecretStore(portal).set("telegram_bot_token", "123:ABC")
        # Stands for subscriber data, which lives apart from the settings.
        IAnnotations(portal)["collective.messenger.subscribers"] = {"keep": "me"}
        portal.portal_types["Document"].behaviors += ("collective.messenger.push",)
        installer.uninstall_product(PACKAGE)
        self.portal = portal

    def test_product_uninstalled(self, installer):
        assert not installer.is_product_installed(PACKAGE)

    def test_browser_layer_removed(self):
        assert IMessengerLayer not in registered_layers()

    def test_registry_records_removed(self):
        registry = getUtility(IRegistry)
        assert not [
            name for name in registry.records.keys() if name.startswith(PACKAGE + ".")
        ]

    def test_configlet_removed(self):
        actions = [
            a.getId() for a in api.portal.get_tool("portal_controlpanel").listActions()
        ]
        assert "messenger" not in actions

    def test_behaviors_removed_from_types(self):
        assert (
            "collective.messenger.push"
            not in self.portal.portal_types["Document"].behaviors
        )

    def test_secrets_removed(self):
        assert SecretStore(self.portal).stored("telegram_bot_token") is None

    def test_signup_portlet_type_removed(self):
        from plone.portlets.interfaces import IPortletType
        from zope.component import queryUtility

        assert (
            queryUtility(IPortletType, name="collective.messenger.SignupPortlet")
            is None
        )

    def test_subscribers_link_removed(self):
        assert (
            "messenger-subscribers"
            not in api.portal.get_tool("portal_actions").user.objectIds()
        )

    def test_subscriber_data_kept(self):
        assert IAnnotations(self.portal)["collective.messenger.subscribers"] == {
            "keep": "me"
        }


def test_subscriber_store_created_at_install_for_the_topics(portal):
    from collective.messenger.subscribers.access import get_store
    from collective.messenger.subscribers.store import SubscriberStore

    store = get_store(portal, create=False)
    assert isinstance(store, SubscriberStore)
    assert set(store._topics) == {
        "baustellen-verkehr",
        "veranstaltungen",
        "rathaus-aktuell",
        "warnungen",
    }
    assert store.counts()["total"] == 0


def test_new_topic_is_prepared_when_saved(portal):
    from collective.messenger.subscribers.access import get_store

    lines = list(api.portal.get_registry_record("collective.messenger.topics"))
    api.portal.set_registry_record(
        "collective.messenger.topics", lines + ["freibad | Freibad"]
    )
    store = get_store(portal, create=False)
    assert "freibad" in store._topics  # its member set exists before anyone signs up


def test_upgrade_from_1000_adds_portlet_and_subscribers_link(portal):
    """Upgrading from the first release runs every step up to the current version."""
    from plone.portlets.interfaces import IPortletType
    from zope.component import queryUtility

    setup = api.portal.get_tool("portal_setup")
    # A site as version 1000 left it: no signup portlet type, no user action.
    from zope.component import getSiteManager

    getSiteManager(portal).unregisterUtility(
        provided=IPortletType, name="collective.messenger.SignupPortlet"
    )
    api.portal.get_tool("portal_actions").user.manage_delObjects([
        "messenger-subscribers"
    ])
    setup.setLastVersionForProfile(f"{PACKAGE}:default", "1000")
    assert queryUtility(IPortletType, name="collective.messenger.SignupPortlet") is None

    setup.upgradeProfile(f"{PACKAGE}:default")

    assert setup.getLastVersionForProfile(f"{PACKAGE}:default") == ("1003",)
    assert (
        queryUtility(IPortletType, name="collective.messenger.SignupPortlet").addview
        == "collective.messenger.SignupPortlet"
    )
    assert (
        "messenger-subscribers"
        in api.portal.get_tool("portal_actions").user.objectIds()
    )
