"""Site Setup > Messenger as a Site Administrator, through a real browser session (testbrowser)."""

import json

import lxml.html
import pytest
import transaction
from conftest import PASSWORD
from plone import api
from plone.testing.zope import Browser

from collective.messenger.settings.secrets import SecretStore
from messenger_worker import keys

ADMIN = "siteadmin"


@pytest.fixture
def browser(functional, site):
    browser = Browser(functional["app"])
    browser.handleErrors = False
    browser.addHeader("Authorization", f"Basic {ADMIN}:{PASSWORD}")
    browser.open(site.absolute_url() + "/@@messenger-controlpanel")
    return browser


def registry(name):
    transaction.begin()
    return api.portal.get_registry_record(f"collective.messenger.{name}")


def test_panel_listed_in_site_setup(browser, site):
    browser.open(site.absolute_url() + "/@@overview-controlpanel")
    assert "@@messenger-controlpanel" in browser.contents


def test_save_changes_registry(browser):
    browser.getControl(name="form.widgets.telegram_enabled:list").value = ["selected"]
    browser.getControl(
        name="form.widgets.telegram_bot_username"
    ).value = "musterstadt_bot"
    browser.getControl(name="form.widgets.telegram_rate").value = "25"
    browser.getControl(name="form.buttons.save").click()
    assert "Changes saved" in browser.contents
    assert registry("telegram_enabled") is True
    assert registry("telegram_bot_username") == "musterstadt_bot"
    assert registry("telegram_rate") == 25.0


def test_save_publishes_settings_to_redis(browser, plone_redis):
    browser.getControl(
        name="form.widgets.telegram_bot_username"
    ).value = "musterstadt_bot"
    browser.getControl(name="form.widgets.telegram_bot_token").value = "123:SECRET"
    browser.getControl(name="form.buttons.save").click()
    version = int(plone_redis.hget(keys.SETTINGS_KEY, "version"))
    document = json.loads(plone_redis.hget(keys.SETTINGS_KEY, "json"))
    assert version >= 1
    assert document["channels"]["telegram"]["bot_username"] == "musterstadt_bot"
    assert document["channels"]["telegram"]["bot_token"] == "123:SECRET"
    assert [t["id"] for t in document["topics"]][:2] == [
        "baustellen-verkehr",
        "veranstaltungen",
    ]

    browser.getControl(name="form.widgets.telegram_rate").value = "12.5"
    browser.getControl(name="form.buttons.save").click()
    assert int(plone_redis.hget(keys.SETTINGS_KEY, "version")) == version + 1
    document = json.loads(plone_redis.hget(keys.SETTINGS_KEY, "json"))
    assert document["channels"]["telegram"]["rate"] == 12.5


@pytest.mark.parametrize(
    "field, value, message",
    [
        (
            "topics",
            "freibad | Freibad\nFrei Bad | Wrong",
            '"Frei Bad" is not a valid topic id',
        ),
        (
            "topics",
            "freibad | Freibad\nfreibad | Again",
            '"freibad" is used more than once',
        ),
        ("topics", "freibad", 'the topic "freibad" needs a title'),
        ("template_news", "{title} {author}", "Unknown placeholder {author}"),
        ("template_event", "{title", 'unmatched "{" or "}"'),
        ("telegram_bot_username", "@musterstadt", "is not a Telegram bot username"),
        ("signal_sender_number", "0170 123", "is not a valid phone number"),
        ("threema_gateway_id", "MUSTER", "is not a Threema Gateway ID"),
        ("telegram_rate", "0", "Value is too small"),
        ("phone_region", "Deutschland", "is not a country code"),
    ],
)
def test_validation_errors(browser, field, value, message):
    before = registry(field)
    browser.getControl(name=f"form.widgets.{field}").value = value
    browser.getControl(name="form.buttons.save").click()
    assert "Please correct the marked fields" in browser.contents
    assert message in browser.contents
    assert registry(field) == before


def test_secret_never_rendered_back(browser):
    browser.getControl(name="form.widgets.telegram_bot_token").value = "123:TOPSECRET"
    browser.getControl(name="form.widgets.threema_api_secret").value = "threema-secret"
    browser.getControl(name="form.buttons.save").click()
    assert "TOPSECRET" not in browser.contents
    assert "threema-secret" not in browser.contents
    assert browser.getControl(name="form.widgets.telegram_bot_token").value == ""
    assert "A value is stored" in browser.contents


def test_secret_not_echoed_on_validation_error(browser):
    browser.getControl(name="form.widgets.telegram_bot_token").value = "123:TOPSECRET"
    browser.getControl(name="form.widgets.threema_gateway_id").value = "wrong"
    browser.getControl(name="form.buttons.save").click()
    assert "Please correct the marked fields" in browser.contents
    assert "TOPSECRET" not in browser.contents


def test_empty_secret_keeps_stored_value(browser, site):
    browser.getControl(name="form.widgets.telegram_bot_token").value = "123:KEEP"
    browser.getControl(name="form.buttons.save").click()
    browser.getControl(name="form.widgets.telegram_bot_username").value = "other_bot"
    browser.getControl(name="form.buttons.save").click()
    transaction.begin()
    assert SecretStore(site).stored("telegram_bot_token") == "123:KEEP"
    assert registry("telegram_bot_username") == "other_bot"


def test_secret_from_environment_is_named(browser, site, monkeypatch):
    monkeypatch.setenv("MESSENGER_THREEMA_API_SECRET", "from-env")
    browser.reload()
    assert (
        "Set by the environment variable MESSENGER_THREEMA_API_SECRET"
        in browser.contents
    )
    assert "from-env" not in browser.contents


def test_redis_down_save_succeeds_with_warning(browser, monkeypatch):
    from messenger_worker.testing import free_port

    monkeypatch.setenv("MESSENGER_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    browser.getControl(name="form.widgets.telegram_bot_username").value = "offline_bot"
    browser.getControl(name="form.buttons.save").click()
    assert "Changes saved" in browser.contents
    assert "could not be told" in browser.contents
    assert registry("telegram_bot_username") == "offline_bot"
    assert "is not reachable" in browser.contents  # the health box says so too


def test_publish_button_after_redis_returns(browser, plone_redis, monkeypatch):
    from messenger_worker.testing import free_port

    with monkeypatch.context() as patch:
        patch.setenv("MESSENGER_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
        browser.getControl(name="form.widgets.telegram_bot_username").value = "late_bot"
        browser.getControl(name="form.buttons.save").click()
        browser.getControl(name="form.buttons.publish").click()
        assert "Could not publish the settings" in browser.contents
    assert plone_redis.hget(keys.SETTINGS_KEY, "json") is None
    browser.reload()
    assert "not published yet" in browser.contents
    browser.getControl(name="form.buttons.publish").click()
    assert "published to the workers" in browser.contents
    document = json.loads(plone_redis.hget(keys.SETTINGS_KEY, "json"))
    assert document["channels"]["telegram"]["bot_username"] == "late_bot"
    assert "up to date" in browser.contents


def test_health_shows_redis_queues_and_channels(browser, plone_redis):
    from rq import Queue

    Queue("messenger", connection=plone_redis).enqueue("messenger_worker.jobs.noop")
    browser.reload()
    assert "reachable" in browser.contents
    info = plone_redis.info("server")["redis_version"]
    assert info in browser.contents
    assert "messenger-high" in browser.contents
    assert "none running" in browser.contents
    queues = browser.contents.split('id="messenger-queues"')[1].split("</table>")[0]
    row = queues.split("<code>messenger</code>")[1].split("</tr>")[0]
    assert "<td>1</td>" in row


def test_channel_state_lists_missing_settings(browser):
    browser.getControl(name="form.widgets.signal_enabled:list").value = ["selected"]
    browser.getControl(name="form.buttons.save").click()
    channels = browser.contents.split('id="messenger-channels"')[1].split("</table>")[0]
    assert "incomplete" in channels
    assert "Sender number" in channels


def test_editor_cannot_open_panel(functional, site):
    browser = Browser(functional["app"])
    browser.addHeader("Authorization", f"Basic editor:{PASSWORD}")
    browser.raiseHttpErrors = False
    browser.open(site.absolute_url() + "/@@messenger-controlpanel")
    assert "form.widgets.telegram_bot_token" not in browser.contents


def test_paused_channel_shown_with_reason(browser, plone_redis):
    from messenger_worker.pauses import ChannelPauses

    ChannelPauses(plone_redis).pause(
        "threema", "Threema says there are no credits left."
    )
    browser.reload()
    paused = browser.contents.split('id="messenger-paused"')[1].split("</div>")[0]
    assert "threema" in paused
    assert "no credits left" in paused


def test_site_administrator_cannot_point_api_elsewhere(browser):
    before = registry("telegram_api_url")
    browser.getControl(
        name="form.widgets.telegram_api_url"
    ).value = "https://telegram.example.net"
    browser.getControl(name="form.widgets.telegram_rate").value = "3"
    browser.getControl(name="form.buttons.save").click()
    assert (
        "Please correct the marked fields: Telegram: API base URL" in browser.contents
    )
    error = browser.contents.split("Only a Manager may send this channel")[1].split(
        "</div>"
    )[0]
    assert (
        "token to https://telegram.example.net: the token goes with every request"
        in error
    )
    assert registry("telegram_api_url") == before
    assert registry("telegram_rate") == 30.0


def test_site_administrator_may_use_loopback_and_keeps_managers_choice(browser):
    browser.getControl(
        name="form.widgets.signal_api_url"
    ).value = "http://127.0.0.1:8080"
    browser.getControl(name="form.buttons.save").click()
    assert "Changes saved" in browser.contents
    assert registry("signal_api_url") == "http://127.0.0.1:8080"

    api.portal.set_registry_record(
        "collective.messenger.threema_api_url", "https://threema.intern"
    )
    transaction.commit()
    browser.reload()
    browser.getControl(name="form.widgets.threema_rate").value = "5"
    browser.getControl(name="form.buttons.save").click()
    assert (
        "Changes saved" in browser.contents
    )  # the unchanged address is not the admin's choice
    assert registry("threema_rate") == 5.0


def test_manager_may_point_api_anywhere(functional, site):
    manager = Browser(functional["app"])
    manager.handleErrors = False
    manager.addHeader("Authorization", f"Basic manager:{PASSWORD}")
    manager.open(site.absolute_url() + "/@@messenger-controlpanel")
    manager.getControl(
        name="form.widgets.whatsapp_api_url"
    ).value = "https://graph.intern.example"
    manager.getControl(name="form.buttons.save").click()
    assert "Changes saved" in manager.contents
    assert registry("whatsapp_api_url") == "https://graph.intern.example"


def german_browser(functional, site, user):
    api.portal.set_registry_record("plone.available_languages", ["en", "de"])
    api.portal.set_registry_record("plone.use_request_negotiation", True)
    transaction.commit()
    browser = Browser(functional["app"])
    browser.handleErrors = False
    browser.addHeader("Authorization", f"Basic {user}:{PASSWORD}")
    browser.addHeader("Accept-Language", "de-DE,de;q=0.9")
    browser.open(site.absolute_url() + "/@@messenger-controlpanel")
    return browser


def test_whatsapp_image_template_is_saved_and_published(browser, plone_redis):
    browser.getControl(
        name="form.widgets.whatsapp_template_name"
    ).value = "musterstadt_post_text"
    browser.getControl(
        name="form.widgets.whatsapp_image_template_name"
    ).value = "musterstadt_post"
    browser.getControl(name="form.buttons.save").click()
    assert "Changes saved" in browser.contents
    assert registry("whatsapp_image_template_name") == "musterstadt_post"
    whatsapp = json.loads(plone_redis.hget(keys.SETTINGS_KEY, "json"))["channels"][
        "whatsapp"
    ]
    assert (whatsapp["template_name"], whatsapp["image_template_name"]) == (
        "musterstadt_post_text",
        "musterstadt_post",
    )

    browser.getControl(
        name="form.widgets.whatsapp_image_template_name"
    ).value = "Mit Bild"
    browser.getControl(name="form.buttons.save").click()
    assert '"Mit Bild" is not a WhatsApp template name' in browser.contents
    assert registry("whatsapp_image_template_name") == "musterstadt_post"


def test_whatsapp_image_template_field_in_german(functional, site):
    browser = german_browser(functional, site, ADMIN)
    page = lxml.html.fromstring(browser.contents)
    [label] = page.xpath('//label[@for="form-widgets-whatsapp_image_template_name"]')
    assert "Vorlage für Beiträge mit Bild" in label.text_content()
    assert "eine freigegebene Vorlage mit Bild-Kopfzeile" in browser.contents
    # In the WhatsApp tab, right after the broadcast template.
    fieldset = page.xpath(
        '//fieldset[.//input[@name="form.widgets.whatsapp_template_name"]]'
    )[0]
    names = fieldset.xpath(
        './/input[starts-with(@name, "form.widgets.whatsapp_")]/@name'
    )
    position = names.index("form.widgets.whatsapp_template_name")
    assert names[position + 1] == "form.widgets.whatsapp_image_template_name"


def test_manager_finds_the_erase_page_below_the_settings(functional, site):
    browser = german_browser(functional, site, "manager")
    page = lxml.html.fromstring(browser.contents)
    [section] = page.xpath('//section[@id="messenger-controlpanel-erase"]')
    assert "Den Dienst beenden" in section.text_content()
    assert "Website-Konfiguration → Add-ons" in section.text_content()
    [link] = section.xpath('.//a[@id="messenger-controlpanel-erase-link"]')
    assert link.text_content().strip() == "Alle Messenger-Daten löschen"
    assert link.get("href") == site.absolute_url() + "/@@messenger-erase"
    browser.getLink(id="messenger-controlpanel-erase-link").click()
    assert browser.url == site.absolute_url() + "/@@messenger-erase"
    assert 'id="messenger-erase"' in browser.contents


@pytest.mark.parametrize("field", ["telegram_webhook_secret", "signal_webhook_secret"])
def test_short_webhook_secret_refused_with_reason(browser, site, field):
    browser.getControl(name=f"form.widgets.{field}").value = "kurz-und-knapp"
    browser.getControl(name="form.buttons.save").click()
    assert "Please correct the marked fields" in browser.contents
    assert "The secret has 14 characters; use at least 32." in browser.contents
    assert "kurz-und-knapp" not in browser.contents
    transaction.begin()
    assert SecretStore(site).stored(field) is None

    browser.getControl(name=f"form.widgets.{field}").value = "k" * 32
    browser.getControl(name="form.buttons.save").click()
    assert "Changes saved" in browser.contents
    transaction.begin()
    assert SecretStore(site).stored(field) == "k" * 32


def test_short_webhook_secret_from_before_is_kept_and_flagged(
    browser, site, monkeypatch
):
    """An older version stored a short secret: it keeps working, the Channels box says to
    replace it (also for one set in the environment)."""
    SecretStore(site).set("signal_webhook_secret", "old-short-secret")
    api.portal.set_registry_record("collective.messenger.signal_enabled", True)
    transaction.commit()
    browser.reload()
    channels = browser.contents.split('id="messenger-channels"')[1].split("</table>")[0]
    signal_row = channels.split("Signal")[1].split("</tr>")[0]
    assert "Replace Receive secret: shorter than 32 characters" in signal_row
    assert "Replace" not in channels.split("Signal")[0]  # Telegram has none set

    browser.getControl(name="form.widgets.signal_rate").value = "2"
    browser.getControl(name="form.buttons.save").click()
    assert "Changes saved" in browser.contents
    transaction.begin()
    assert SecretStore(site).stored("signal_webhook_secret") == "old-short-secret"

    monkeypatch.setenv("MESSENGER_TELEGRAM_WEBHOOK_SECRET", "env-short")
    browser.reload()
    channels = browser.contents.split('id="messenger-channels"')[1].split("</table>")[0]
    assert "Replace Webhook secret: shorter than 32 characters" in channels
