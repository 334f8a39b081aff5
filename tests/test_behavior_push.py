"""The ``collective.messenger.push`` behavior: on News Item, Event and Construction Notice, a
"Messenger" fieldset for editors, the teaser falling back to the description, and addable to
any Dexterity type in the Dexterity types control panel."""

import os
import re
import xml.etree.ElementTree as ET

import plone.app.contenttypes
import pytest
import transaction
from conftest import browser_for
from plone import api
from plone.app.testing import setRoles
from plone.app.testing import TEST_USER_ID

from collective.messenger.behaviors.push import IMessengerPush
from collective.messenger.behaviors.push import IMessengerPushable
from collective.messenger.behaviors.push import teaser_for

BEHAVIOR = "collective.messenger.push"
FIELDS = ("messenger_topics", "messenger_send", "messenger_teaser", "messenger_urgent")


@pytest.fixture
def portal(portal):
    setRoles(portal, TEST_USER_ID, ["Manager"])
    return portal


@pytest.fixture
def site(site):
    setRoles(site, TEST_USER_ID, ["Manager"])
    transaction.commit()
    return site


def plone_behaviors(type_file):
    """The behaviors plone.app.contenttypes gives a type, from its own profile."""
    path = os.path.join(
        os.path.dirname(plone.app.contenttypes.__file__),
        "profiles",
        "default",
        "types",
        type_file,
    )
    prop = ET.parse(path).getroot().find("property[@name='behaviors']")
    return [element.get("value") for element in prop.findall("element")]


@pytest.mark.parametrize(
    "portal_type, type_file",
    [
        ("News Item", "News_Item.xml"),
        ("Event", "Event.xml"),
        ("construction_notice", None),
    ],
)
def test_enabled_on_news_events_and_construction_notices(
    portal, portal_type, type_file
):
    behaviors = api.portal.get_tool("portal_types")[portal_type].behaviors
    assert BEHAVIOR in behaviors
    if type_file:
        # purge="false": Plone's own behaviors are all still there, ours comes after them.
        expected = plone_behaviors(type_file)
        assert len(expected) > 5
        assert list(behaviors) == expected + [BEHAVIOR]


def test_not_on_other_types(portal):
    assert BEHAVIOR not in api.portal.get_tool("portal_types")["Document"].behaviors
    document = api.content.create(portal, "Document", title="Impressum")
    assert not IMessengerPushable.providedBy(document)
    assert IMessengerPush(document, None) is None


def test_values_are_attributes_with_defaults(portal):
    news = api.content.create(
        portal, "News Item", title="Stadtfest", description="Am Samstag."
    )
    assert IMessengerPushable.providedBy(news)
    push = IMessengerPush(news)
    assert push is news  # schema-only: the values live on the item itself
    assert (
        push.messenger_topics,
        push.messenger_send,
        push.messenger_teaser,
        push.messenger_urgent,
    ) == ([], True, None, False)
    push.messenger_topics.append(
        "veranstaltungen"
    )  # a default must not be shared between items
    other = api.content.create(portal, "News Item", title="Markt")
    assert IMessengerPush(other).messenger_topics == []


def test_teaser_defaults_to_the_description(portal):
    news = api.content.create(
        portal, "News Item", title="Stadtfest", description="  Am Samstag ab 10 Uhr.  "
    )
    assert teaser_for(news) == "Am Samstag ab 10 Uhr."
    news.messenger_teaser = "   "
    assert teaser_for(news) == "Am Samstag ab 10 Uhr."
    news.messenger_teaser = " Heute Stadtfest! \n"
    assert teaser_for(news) == "Heute Stadtfest!"
    # Without the behavior, the description is the teaser.
    document = api.content.create(
        portal, "Document", title="Seite", description="Kurz."
    )
    assert teaser_for(document) == "Kurz."
    document.description = None
    assert teaser_for(document) == ""


def test_long_description_is_cut_to_500_characters_at_a_word(portal):
    words = "Straßensperrung " * 40  # 640 characters
    news = api.content.create(portal, "News Item", title="Lang", description=words)
    teaser = teaser_for(news)
    assert len(teaser) <= 500
    assert teaser.endswith("Straßensperrung…")
    assert words.startswith(teaser[:-1])
    # One endless "word" (a pasted URL) is cut hard rather than dropped.
    news.description = "x" * 700
    assert teaser_for(news) == "x" * 499 + "…"


def messenger_fieldset(html):
    match = re.search(
        r'<fieldset[^>]*id="fieldset-messenger".*?</fieldset>', html, re.S
    )
    assert match, "no Messenger fieldset in the form"
    return match.group(0)


def test_editor_sets_the_fields_in_the_messenger_fieldset(site):
    news = api.content.create(
        site, "News Item", title="Stadtfest", description="Am Samstag."
    )
    transaction.commit()
    browser = browser_for(site, "editor")
    browser.open(f"{news.absolute_url()}/edit")
    assert browser.headers["status"].startswith("200")
    fieldset = messenger_fieldset(browser.contents)
    assert re.search(r"<legend[^>]*>\s*Messenger\s*</legend>", fieldset)
    for field in FIELDS:
        assert f"form.widgets.IMessengerPush.{field}" in fieldset
    assert "Send on publish" in fieldset and "Urgent" in fieldset
    # Topics are checkboxes labelled with the topics of the control panel; send is ticked.
    topics = browser.getControl(
        name="form.widgets.IMessengerPush.messenger_topics:list"
    )
    assert topics.options == [
        "baustellen-verkehr",
        "veranstaltungen",
        "rathaus-aktuell",
        "warnungen",
    ]
    assert "Baustellen &amp; Verkehr" in fieldset or "Baustellen & Verkehr" in fieldset
    assert browser.getControl(
        name="form.widgets.IMessengerPush.messenger_send:list"
    ).value == ["selected"]
    assert (
        browser.getControl(
            name="form.widgets.IMessengerPush.messenger_urgent:list"
        ).value
        == []
    )

    topics.value = ["veranstaltungen", "warnungen"]
    browser.getControl(
        name="form.widgets.IMessengerPush.messenger_teaser"
    ).value = "Heute Stadtfest!"
    browser.getControl(
        name="form.widgets.IMessengerPush.messenger_urgent:list"
    ).value = ["selected"]
    browser.getControl(
        name="form.widgets.IMessengerPush.messenger_send:list"
    ).value = []
    browser.getControl(name="form.buttons.save").click()
    assert browser.headers["status"].startswith("200")
    assert "Changes saved" in browser.contents

    transaction.begin()
    push = IMessengerPush(site["stadtfest"])
    assert push.messenger_topics == ["veranstaltungen", "warnungen"]
    assert push.messenger_teaser == "Heute Stadtfest!"
    assert push.messenger_urgent is True
    assert push.messenger_send is False
    assert teaser_for(site["stadtfest"]) == "Heute Stadtfest!"


def test_teaser_longer_than_500_characters_is_a_form_error(site):
    news = api.content.create(site, "News Item", title="Stadtfest")
    transaction.commit()
    browser = browser_for(site, "editor")
    browser.open(f"{news.absolute_url()}/edit")
    browser.getControl(name="form.widgets.IMessengerPush.messenger_teaser").value = (
        "a" * 501
    )
    browser.getControl(name="form.buttons.save").click()
    assert browser.headers["status"].startswith("200")
    assert "There were some errors" in browser.contents
    assert "Value is too long" in messenger_fieldset(browser.contents)
    transaction.begin()
    assert IMessengerPush(site["stadtfest"]).messenger_teaser is None


def test_manager_adds_the_behavior_to_another_type(site):
    # @@dexterity-types is for Managers (plone.schemaeditor.ManageSchemata).
    browser = browser_for(site, "manager")
    browser.open(f"{site.absolute_url()}/@@dexterity-types/Document/@@behaviors")
    assert browser.headers["status"].startswith("200")
    control = browser.getControl(name=f"form.widgets.{BEHAVIOR}:list")
    assert control.value == []
    control.value = ["selected"]
    browser.getControl(name="form.buttons.apply").click()
    assert browser.headers["status"].startswith("200")

    transaction.begin()
    assert BEHAVIOR in site.portal_types["Document"].behaviors
    document = api.content.create(site, "Document", title="Freibad öffnet")
    assert IMessengerPushable.providedBy(document)
    assert IMessengerPush(document).messenger_send is True
