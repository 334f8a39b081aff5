"""Settings reach Redis only after a successful commit, once per transaction."""

import json

import transaction
from plone import api

from collective.messenger.settings.publish import publish_now
from collective.messenger.settings.secrets import SecretStore
from messenger_worker import keys
from messenger_worker.settings import SettingsCache


def published(redis):
    raw = redis.hget(keys.SETTINGS_KEY, "json")
    return json.loads(raw) if raw else None


def test_aborted_transaction_publishes_nothing(site, plone_redis):
    api.portal.set_registry_record("collective.messenger.telegram_rate", 5.0)
    transaction.abort()  # as Zope does before retrying a request after a ConflictError
    assert published(plone_redis) is None


def test_many_changes_one_publication(site, plone_redis):
    api.portal.set_registry_record("collective.messenger.telegram_rate", 5.0)
    api.portal.set_registry_record("collective.messenger.signal_rate", 0.5)
    SecretStore(site).set("threema_api_secret", "s3cret")
    transaction.commit()
    assert int(plone_redis.hget(keys.SETTINGS_KEY, "version")) == 1
    document = published(plone_redis)
    assert document["channels"]["telegram"]["rate"] == 5.0
    assert document["channels"]["signal"]["rate"] == 0.5
    assert document["channels"]["threema"]["api_secret"] == "s3cret"


def test_other_registry_records_do_not_publish(site, plone_redis):
    api.portal.set_registry_record("plone.site_title", "Musterstadt")
    transaction.commit()
    assert published(plone_redis) is None


def test_worker_cache_sees_each_publication(site, plone_redis):
    cache = SettingsCache(plone_redis, environ={})
    publish_now(site)
    assert cache.current()["templates"]["news"].startswith("{title}")
    api.portal.set_registry_record(
        "collective.messenger.template_news", "{title}: {url}"
    )
    transaction.commit()
    assert cache.current()["templates"]["news"] == "{title}: {url}"
    assert cache.version == 2


def test_reinstall_publishes_defaults(site, plone_redis):
    setup = api.portal.get_tool("portal_setup")
    setup.runAllImportStepsFromProfile("profile-collective.messenger:default")
    transaction.commit()
    document = published(plone_redis)
    assert [t["title"] for t in document["topics"]][:2] == [
        "Baustellen & Verkehr",
        "Veranstaltungen",
    ]


def test_secrets_from_the_environment_are_never_published(
    site, plone_redis, monkeypatch
):
    """Zope's environment secrets stay in Zope; a worker reads its own environment."""
    from collective.messenger.settings.access import settings_document
    from collective.messenger.settings.status import delivery_health

    monkeypatch.setenv("MESSENGER_TELEGRAM_BOT_TOKEN", "123:FROM-ZOPES-ENVIRONMENT")
    SecretStore(site).set("threema_api_secret", "stored-in-the-site")
    transaction.commit()
    document = published(plone_redis)
    assert document["channels"]["telegram"]["bot_token"] is None
    assert document["channels"]["threema"]["api_secret"] == "stored-in-the-site"
    assert b"FROM-ZOPES-ENVIRONMENT" not in plone_redis.hget(keys.SETTINGS_KEY, "json")
    # Zope itself still uses it (webhooks, previews, the channel state) ...
    assert (
        settings_document(site)["channels"]["telegram"]["bot_token"]
        == "123:FROM-ZOPES-ENVIRONMENT"
    )
    # ... the control panel does not call the workers' settings outdated for it ...
    assert delivery_health()["settings_current"] is True
    # ... and a worker takes the variable from its own environment.
    worker = SettingsCache(
        plone_redis, environ={"MESSENGER_TELEGRAM_BOT_TOKEN": "123:WORKER"}
    )
    assert worker.current()["channels"]["telegram"]["bot_token"] == "123:WORKER"
    assert worker.current()["channels"]["threema"]["api_secret"] == "stored-in-the-site"


def test_webhook_secrets_stay_in_plone(site, plone_redis):
    """Only Plone checks incoming webhooks; whoever reads Redis must not be able to forge them."""
    store = SecretStore(site)
    store.set("telegram_webhook_secret", "t" * 40)
    store.set("signal_webhook_secret", "s" * 40)
    store.set("whatsapp_app_secret", "a" * 32)
    store.set("whatsapp_verify_token", "verify-me")
    store.set("whatsapp_access_token", "EAAG-access")
    transaction.commit()
    channels = published(plone_redis)["channels"]
    assert channels["telegram"]["webhook_secret"] is None
    assert channels["signal"]["webhook_secret"] is None
    assert channels["whatsapp"]["app_secret"] is None
    assert channels["whatsapp"]["verify_token"] is None
    assert (
        channels["whatsapp"]["access_token"] == "EAAG-access"
    )  # a worker sends with it
    raw = plone_redis.hget(keys.SETTINGS_KEY, "json")
    assert b"t" * 40 not in raw and b"verify-me" not in raw


def test_publish_button_leaves_environment_secrets_out(site, plone_redis, monkeypatch):
    monkeypatch.setenv("MESSENGER_THREEMA_API_SECRET", "env-only-secret")
    publish_now(site)
    assert published(plone_redis)["channels"]["threema"]["api_secret"] is None
