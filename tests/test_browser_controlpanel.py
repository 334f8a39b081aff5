"""A Site Administrator adds a topic in Site Setup > Messenger with a real browser."""

import json

import transaction
from conftest import PASSWORD
from conftest import SCREENSHOTS
from plone import api

from messenger_worker import keys


def log_in(page, site_url, user):
    page.goto(f"{site_url}/login")
    page.fill("#__ac_name", user)
    page.fill("#__ac_password", PASSWORD)
    page.click("#login-form button[type=submit], #login-form input[type=submit]")
    page.wait_for_selector(
        "#personaltools-logout, #portal-personaltools", state="attached"
    )


def test_site_administrator_adds_topic(page, live_site, plone_redis):
    log_in(page, live_site, "siteadmin")
    page.goto(f"{live_site}/@@overview-controlpanel")
    page.locator("a[href$='@@messenger-controlpanel']:visible").first.click()
    assert page.locator("h1").inner_text() == "Messenger"
    page.screenshot(path=f"{SCREENSHOTS}/controlpanel.png", full_page=True)

    page.locator("nav a", has_text="Topics").click()
    topics = page.locator("textarea[name='form.widgets.topics']")
    topics.fill(
        topics.input_value()
        + "\nfreibad | Freibad | Öffnungszeiten und Wassertemperatur"
    )
    page.screenshot(path=f"{SCREENSHOTS}/controlpanel-topics.png", full_page=True)
    page.click("#form-buttons-save")
    page.wait_for_selector(".alert-info, .portalMessage.info")
    assert "Changes saved" in page.content()

    page.reload()
    page.locator("nav a", has_text="Topics").click()
    saved = page.locator("textarea[name='form.widgets.topics']").input_value()
    assert (
        saved.splitlines()[-1]
        == "freibad | Freibad | Öffnungszeiten und Wassertemperatur"
    )

    transaction.begin()
    lines = api.portal.get_registry_record("collective.messenger.topics")
    assert lines[-1] == "freibad | Freibad | Öffnungszeiten und Wassertemperatur"
    document = json.loads(plone_redis.hget(keys.SETTINGS_KEY, "json"))
    assert document["topics"][-1] == {
        "id": "freibad",
        "title": "Freibad",
        "description": "Öffnungszeiten und Wassertemperatur",
    }


def test_invalid_topic_shows_error_next_to_field(page, live_site):
    log_in(page, live_site, "siteadmin")
    page.goto(f"{live_site}/@@messenger-controlpanel")
    page.locator("nav a", has_text="Topics").click()
    page.locator("textarea[name='form.widgets.topics']").fill("Freibad!")
    page.click("#form-buttons-save")
    page.wait_for_load_state()
    page.screenshot(path=f"{SCREENSHOTS}/controlpanel-error.png", full_page=True)
    assert "Please correct the marked fields: Topics: Topics." in page.content()
    page.locator("nav a", has_text="Topics").click()
    error = page.locator("#formfield-form-widgets-topics .invalid-feedback")
    error.wait_for()
    assert '"Freibad!" is not a valid topic id' in error.inner_text()


def test_site_administrator_refused_foreign_api_url_and_short_secret_in_german(
    chromium, live_site
):
    """A German Site Administrator on the Telegram tab: another host for the API and a short
    webhook secret are both refused, each with the reason next to its field."""
    api.portal.set_registry_record("plone.available_languages", ["en", "de"])
    api.portal.set_registry_record("plone.use_request_negotiation", True)
    transaction.commit()
    context = chromium.new_context(
        viewport={"width": 1280, "height": 900}, locale="de-DE"
    )
    page = context.new_page()
    page.set_default_timeout(20000)
    try:
        log_in(page, live_site, "siteadmin")
        page.goto(f"{live_site}/@@messenger-controlpanel")
        page.locator("nav a", has_text="Telegram").click()
        page.fill(
            "input[name='form.widgets.telegram_api_url']",
            "https://telegram.example.net",
        )
        page.fill("input[name='form.widgets.telegram_webhook_secret']", "kurz")
        page.click("#form-buttons-save")
        page.wait_for_load_state()
        page.locator("nav a", has_text="Telegram").click()
        url_error = page.locator(
            "#formfield-form-widgets-telegram_api_url .invalid-feedback"
        )
        url_error.wait_for()
        page.screenshot(
            path=f"{SCREENSHOTS}/controlpanel-api-url-refused.png", full_page=True
        )
        assert url_error.inner_text().startswith(
            "Nur ein Manager darf das Token dieses Kanals an https://telegram.example.net senden"
        )
        secret_error = page.locator(
            "#formfield-form-widgets-telegram_webhook_secret .invalid-feedback"
        )
        assert secret_error.inner_text().startswith(
            "Das Geheimnis hat 4 Zeichen; verwenden Sie mindestens 32."
        )
        assert (
            "kurz"
            not in page.locator(
                "input[name='form.widgets.telegram_webhook_secret']"
            ).input_value()
        )
    finally:
        context.close()
    transaction.begin()
    assert (
        api.portal.get_registry_record("collective.messenger.telegram_api_url")
        == "https://api.telegram.org"
    )


def test_german_manager_sees_the_image_template_and_goes_on_to_erase_all_data(
    chromium, live_site
):
    """The WhatsApp tab offers the template for posts with an image; below the settings, the
    way to "Erase all messenger data" before uninstalling."""
    api.portal.set_registry_record("plone.available_languages", ["en", "de"])
    api.portal.set_registry_record("plone.use_request_negotiation", True)
    transaction.commit()
    context = chromium.new_context(
        viewport={"width": 1280, "height": 900}, locale="de-DE"
    )
    page = context.new_page()
    page.set_default_timeout(20000)
    try:
        log_in(page, live_site, "manager")
        page.goto(f"{live_site}/@@messenger-controlpanel")
        page.locator("nav a", has_text="WhatsApp").click()
        field = page.get_by_label("Vorlage für Beiträge mit Bild")
        field.wait_for()
        assert (
            field.get_attribute("name") == "form.widgets.whatsapp_image_template_name"
        )
        section = page.locator("#messenger-controlpanel-erase")
        assert "Den Dienst beenden" in section.inner_text()
        page.screenshot(
            path=f"{SCREENSHOTS}/controlpanel-erase-link.png", full_page=True
        )
        section.get_by_role("link", name="Alle Messenger-Daten löschen").click()
        page.wait_for_url(f"{live_site}/@@messenger-erase")
        assert page.locator("h1").inner_text() == "Alle Messenger-Daten löschen"
    finally:
        context.close()
