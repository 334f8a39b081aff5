"""Upgrade step 1003 (issue 9): settings registered again with their values kept, the cron
permission, and a fresh publication without secrets from Zope's environment."""

import json

import transaction
from plone import api

from messenger_worker import keys

PROFILE = "collective.messenger:default"


def test_upgrade_from_1002(site, plone_redis, monkeypatch):
    setup = api.portal.get_tool("portal_setup")
    registry = api.portal.get_tool("portal_registry")
    # A site as 1002 left it: customised settings, a setting added since missing, no cron
    # permission, and in Redis a document that still carries Zope's environment token.
    topics = registry["collective.messenger.topics"] = ["freibad | Freibad"]
    registry["collective.messenger.telegram_api_url"] = "https://telegram.intern"
    # Records of settings added in this issue (the daily code budgets, the WhatsApp template for
    # posts with an image) and of an older one.
    added_since = [
        "collective.messenger.public_states",
        "collective.messenger.whatsapp_image_template_name",
    ] + sorted(
        name
        for name in registry.records.keys()
        if name.startswith("collective.messenger.") and name.endswith("codes_per_day")
    )
    for name in added_since:
        del registry.records[name]
    site.manage_permission(
        "collective.messenger: Run maintenance", roles=[], acquire=True
    )
    site.__ac_roles__ = tuple(r for r in site.__ac_roles__ if r != "Messenger Cron")
    # The site's own choice for an older permission survives the upgrade.
    site.manage_permission(
        "collective.messenger: Manage messenger", roles=["Manager"], acquire=True
    )
    setup.setLastVersionForProfile(PROFILE, "1002")
    transaction.commit()
    monkeypatch.setenv("MESSENGER_TELEGRAM_BOT_TOKEN", "123:ENVIRONMENT")
    plone_redis.hset(
        keys.SETTINGS_KEY,
        mapping={
            "version": 7,
            "json": json.dumps({
                "channels": {"telegram": {"bot_token": "123:ENVIRONMENT"}}
            }),
        },
    )

    setup.upgradeProfile(PROFILE)
    transaction.commit()

    assert setup.getLastVersionForProfile(PROFILE) == ("1003",)
    assert all(name in registry.records for name in added_since)
    assert registry["collective.messenger.topics"] == topics
    assert (
        registry["collective.messenger.telegram_api_url"] == "https://telegram.intern"
    )
    roles = {
        r["name"]
        for r in site.rolesOfPermission("collective.messenger: Run maintenance")
        if r["selected"]
    }
    assert roles == {"Manager", "Site Administrator", "Messenger Cron"}
    assert "Messenger Cron" in site.valid_roles()
    managers = {
        r["name"]
        for r in site.rolesOfPermission("collective.messenger: Manage messenger")
        if r["selected"]
    }
    assert managers == {"Manager"}
    assert int(plone_redis.hget(keys.SETTINGS_KEY, "version")) == 8
    document = json.loads(plone_redis.hget(keys.SETTINGS_KEY, "json"))
    assert document["channels"]["telegram"]["bot_token"] is None
    assert document["channels"]["telegram"]["api_url"] == "https://telegram.intern"
