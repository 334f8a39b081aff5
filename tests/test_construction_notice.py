"""The Construction Notice type: add form with the end-before-start check, its page, the
``@@construction-notices`` listing, catalog data, and what uninstalling leaves."""

import os
import re
from datetime import datetime
from datetime import timedelta

import pytest
import pytz
import transaction
from conftest import browser_for
from conftest import SCREENSHOTS
from plone import api
from plone.app.testing import setRoles
from plone.app.testing import TEST_USER_ID
from plone.namedfile.file import NamedBlobImage
from zExceptions import NotFound

from collective.messenger.behaviors.push import IMessengerPush
from collective.messenger.content.construction_notice import IConstructionNotice

TYPE = "construction_notice"
ADD_PERMISSION = "collective.messenger: Add Construction Notice"
BERLIN = pytz.timezone("Europe/Berlin")


def striped_image(width=960, height=320):
    """A construction-site striped PNG, so the screenshot shows where the lead image goes."""
    import io

    from PIL import Image
    from PIL import ImageDraw

    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for x in range(-height, width, 80):
        draw.polygon(
            [(x, height), (x + 40, height), (x + 40 + height, 0), (x + height, 0)],
            fill="#e8590c",
        )
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def local(*args):
    return BERLIN.localize(datetime(*args))


def prepare(portal):
    """A Berlin site with a "baustellen" folder where the editor may add content."""
    setRoles(portal, TEST_USER_ID, ["Manager"])
    api.portal.set_registry_record("plone.portal_timezone", "Europe/Berlin")
    folder = api.content.create(portal, "Folder", id="baustellen", title="Baustellen")
    # Plone's Editor role edits; adding is the Contributor's (as set up in Sharing).
    folder.manage_setLocalRoles("editor", ["Contributor", "Editor"])
    folder.reindexObjectSecurity()
    return folder


def notice(folder, title, start, end=None, impact="full_closure", **values):
    values.setdefault("location", "Hauptstraße")
    return api.content.create(
        folder, TYPE, title=title, start=start, end=end, impact=impact, **values
    )


@pytest.fixture
def folder(site):
    folder = prepare(site)
    transaction.commit()
    return folder


@pytest.fixture
def portal(integration):
    prepare(integration["portal"])
    return integration["portal"]


def test_type_information(portal):
    fti = portal.portal_types[TYPE]
    assert fti.Title() == "Construction Notice"
    assert fti.i18n_domain == "collective.messenger"
    assert fti.global_allow is True
    assert fti.default_view == "view"
    # Its icon (navigation, folder contents, add menu) is a traffic cone.
    assert fti.icon_expr == "string:contenttype/construction_notice"
    assert api.portal.get_registry_record(
        "plone.icon.contenttype/construction_notice"
    ).endswith("cone-striped.svg")
    assert fti.add_permission == "collective.messenger.AddConstructionNotice"
    assert set(fti.behaviors) >= {
        "plone.dublincore",
        "plone.namefromtitle",
        "plone.shortname",
        "plone.excludefromnavigation",
        "plone.leadimage",
        "plone.richtext",
        "plone.versioning",
        "collective.messenger.push",
    }
    # Allowed in folders, for those who may add content.
    assert TYPE in [t.getId() for t in portal["baustellen"].allowedContentTypes()]
    # Published with the site's default workflow.
    assert (
        portal.portal_workflow.getChainForPortalType(TYPE)
        == portal.portal_workflow.getDefaultChain()
    )


def test_adding_is_for_contributors(site, folder):
    def may_add(user, obj):
        return api.user.has_permission(ADD_PERMISSION, username=user, obj=obj)

    # editor: Contributor in the folder only (see prepare).
    assert may_add("editor", folder) and not may_add("editor", site)
    assert may_add("siteadmin", site) and may_add("manager", site)
    assert not may_add("member", folder) and not may_add("reviewer", folder)


def test_impacts_vocabulary(portal):
    from zope.component import getUtility
    from zope.schema.interfaces import IVocabularyFactory

    vocabulary = getUtility(IVocabularyFactory, "collective.messenger.Impacts")(portal)
    assert [(t.value, t.title) for t in vocabulary] == [
        ("full_closure", "Full closure"),
        ("partial_closure", "Partial closure"),
        ("lane_restriction", "Lane restriction"),
        ("information_only", "Information only"),
    ]
    assert all(t.title.domain == "collective.messenger" for t in vocabulary)


def test_end_before_start_is_invalid(portal):
    from zope.interface import Invalid

    class Data:
        start, end = local(2025, 5, 2, 8), local(2025, 5, 1, 8)

    with pytest.raises(Invalid, match="The end must not be before the start"):
        IConstructionNotice.validateInvariants(Data())
    Data.end = None
    IConstructionNotice.validateInvariants(Data())  # open end
    Data.end = Data.start
    IConstructionNotice.validateInvariants(Data())  # a one-moment notice is fine


def test_catalog_has_start_end_location_impact(portal):
    folder = portal["baustellen"]
    item = notice(
        folder,
        "Brücke gesperrt",
        local(2025, 6, 2, 7),
        local(2025, 6, 20, 18),
        impact="partial_closure",
        location="Mühlenbrücke",
        detour="Über die Ringstraße",
    )
    [brain] = api.content.find(portal_type=TYPE)
    assert brain.start == local(2025, 6, 2, 7)
    assert brain.end == local(2025, 6, 20, 18)
    assert brain.location == "Mühlenbrücke"
    assert brain.impact == "partial_closure"
    # Indexes: Plone's start/end (made for events) and our impact.
    assert [b.UID for b in api.content.find(impact="partial_closure")] == [item.UID()]
    assert not api.content.find(impact="full_closure")
    june = {"query": [local(2025, 6, 10), local(2025, 6, 30)], "range": "min:max"}
    assert len(api.content.find(portal_type=TYPE, end=june)) == 1
    assert len(api.content.find(portal_type=TYPE, start=june)) == 0
    # Search finds it by street and by detour.
    assert len(api.content.find(SearchableText="Mühlenbrücke")) == 1
    assert len(api.content.find(SearchableText="Ringstraße")) == 1
    # An open end is simply not in the end index.
    notice(folder, "Kanalarbeiten", local(2025, 6, 5, 7), None)
    assert [b.Title for b in api.content.find(portal_type=TYPE, end=june)] == [
        "Brücke gesperrt"
    ]


def test_push_behavior_values_on_a_notice(portal):
    item = notice(
        portal["baustellen"],
        "Brücke gesperrt",
        local(2025, 6, 2, 7),
        description="Vollsperrung.",
    )
    push = IMessengerPush(item)
    assert push.messenger_send is True and push.messenger_topics == []
    # What the messenger template placeholders {start}, {end}, {location} read.
    assert (item.start, item.end, item.location) == (
        local(2025, 6, 2, 7),
        None,
        "Hauptstraße",
    )


def add_form(site, browser):
    browser.open(f"{site.absolute_url()}/baustellen/++add++{TYPE}")
    assert browser.headers["status"].startswith("200"), browser.headers["status"]


def fill(browser, **values):
    for name, value in values.items():
        browser.getControl(name=f"form.widgets.{name}").value = value


def test_editor_adds_a_notice_and_gets_an_error_for_end_before_start(site, folder):
    browser = browser_for(site, "editor")
    add_form(site, browser)
    html = browser.contents
    for label in (
        "Location / streets",
        "Start",
        "End",
        "Impact",
        "Detour",
        "Lead Image",
        "Messenger",
    ):
        assert label in html, label
    fill(
        browser,
        **{
            "IDublinCore.title": "Hauptstraße gesperrt",
            "IDublinCore.description": "Vollsperrung wegen Kanalarbeiten.",
            "location": "Hauptstraße zwischen Marktplatz und Bahnhof",
            "start": "2025-06-10T07:00",
            "end": "2025-06-03T18:00",
            "detour": "Über die Ringstraße\nund die Bahnhofstraße",
        },
    )
    browser.getControl(name="form.widgets.impact").value = ["full_closure"]
    browser.getControl(name="form.buttons.save").click()
    assert browser.headers["status"].startswith("200")
    assert "There were some errors" in browser.contents
    assert (
        "The end must not be before the start. Please check the dates."
        in browser.contents
    )
    transaction.begin()
    assert not folder.objectIds()
    # The form kept what the editor typed.
    assert browser.getControl(name="form.widgets.location").value.startswith(
        "Hauptstraße zwischen"
    )

    fill(browser, end="2025-06-20T18:00")
    browser.getControl(name="form.buttons.save").click()
    assert "Item created" in browser.contents
    created = f"{site.absolute_url()}/baustellen/hauptstrasse-gesperrt"
    assert browser.url in (created, f"{created}/view")

    transaction.begin()
    item = folder["hauptstrasse-gesperrt"]
    # Stored as aware datetimes of the site's time zone.
    assert item.start == local(2025, 6, 10, 7) and item.start.tzinfo is not None
    assert item.end == local(2025, 6, 20, 18)
    assert item.impact == "full_closure"
    assert item.location == "Hauptstraße zwischen Marktplatz und Bahnhof"
    # Versioned like news items: the form's save made the first version.
    assert len(site.portal_repository.getHistoryMetadata(item)) == 1

    # The page the editor lands on shows what matters.
    page = browser.contents
    assert "Hauptstraße gesperrt" in page
    assert re.search(
        r'class="badge construction-notice-impact text-bg-danger"\s*>\s*Full closure',
        page,
    )
    assert "Hauptstraße zwischen Marktplatz und Bahnhof" in page
    assert "Jun 10, 2025 07:00 AM" in page and "Jun 20, 2025 06:00 PM" in page
    assert 'datetime="2025-06-10T07:00:00+02:00"' in page
    assert (
        "Über die Ringstraße<br />und die Bahnhofstraße" in page
        or "Über die Ringstraße<br/>und die Bahnhofstraße" in page
    )


def test_impact_is_required(site, folder):
    browser = browser_for(site, "editor")
    add_form(site, browser)
    fill(
        browser,
        **{
            "IDublinCore.title": "Ohne Angabe",
            "location": "Marktplatz",
            "start": "2025-06-10T07:00",
        },
    )
    browser.getControl(name="form.buttons.save").click()
    assert "There were some errors" in browser.contents
    transaction.begin()
    assert not folder.objectIds()


def test_member_cannot_add(site, folder):
    browser = browser_for(site, "member")
    browser.handleErrors = True  # as the site answers: a login page instead of the form
    browser.open(f"{site.absolute_url()}/baustellen/++add++{TYPE}")
    assert "form.widgets.location" not in browser.contents
    assert browser.url.endswith("/insufficient-privileges")


def test_view_shows_lead_image_text_and_open_end_in_german(site, folder):
    from plone.app.textfield.value import RichTextValue

    text = RichTextValue(
        "<p>Der <strong>Kanal</strong> wird erneuert.</p>",
        "text/html",
        "text/x-html-safe",
    )
    item = notice(
        folder,
        "Kanalarbeiten",
        local(2025, 7, 1),
        None,
        impact="lane_restriction",
        location="Bahnhofstraße",
        text=text,
    )
    item.image = NamedBlobImage(data=striped_image(96, 32), filename="baustelle.png")
    api.content.transition(item, "publish")
    api.portal.set_registry_record("plone.available_languages", ["en", "de"])
    api.portal.set_registry_record("plone.use_request_negotiation", True)
    transaction.commit()

    browser = browser_for(site)  # anonymous: the published notice is public
    browser.open(item.absolute_url())
    page = browser.contents
    assert 'id="section-leadimage"' in page and "@@images/image-" in page
    assert "<strong>Kanal</strong> wird erneuert." in page
    assert "text-bg-info" in page and "Lane restriction" in page
    assert "Jul 01, 2025" in page and "until further notice" in page

    german = browser_for(site)
    german.addHeader("Accept-Language", "de")
    german.open(item.absolute_url())
    # Dates in the German format of Plone's catalog (our own texts get their German later).
    assert "01.07.2025" in german.contents


def entries(html, section):
    """Titles in one section of the listing, in page order."""
    match = re.search(
        rf'<ul class="list-unstyled construction-notices-{section}">(.*?)</ul>',
        html,
        re.S,
    )
    if not match:
        return []
    title = r'class="construction-notices-title fw-bold"\s+href="[^"]+"\s*>([^<]+)<'
    return re.findall(title, match.group(1))


def listing_part(html):
    return html.split('class="construction-notices"')[1].split("</section>")[0]


def test_listing_current_and_upcoming_first_by_start(site, folder):
    now = datetime.now(BERLIN).replace(microsecond=0)
    notice(
        folder,
        "Nächste Woche",
        now + timedelta(days=7),
        now + timedelta(days=9),
        impact="lane_restriction",
    )
    notice(
        folder,
        "Läuft noch",
        now - timedelta(days=3),
        now + timedelta(days=3),
        location="Marktplatz",
    )
    notice(
        folder,
        "Vorbei",
        now - timedelta(days=30),
        now - timedelta(days=20),
        impact="information_only",
    )
    notice(
        folder,
        "Bis auf Weiteres",
        now - timedelta(days=1),
        None,
        impact="partial_closure",
    )
    notice(folder, "Lange vorbei", now - timedelta(days=90), now - timedelta(days=80))
    api.content.create(folder, "Document", title="Kein Baustellenhinweis")
    transaction.commit()

    browser = browser_for(site, "editor")
    browser.open(f"{folder.absolute_url()}/@@construction-notices")
    assert browser.headers["status"].startswith("200")
    html = browser.contents
    assert entries(html, "current") == [
        "Läuft noch",
        "Bis auf Weiteres",
        "Nächste Woche",
    ]
    assert entries(html, "finished") == ["Vorbei", "Lange vorbei"]
    assert (
        "Current and upcoming construction sites" in html
        and "Finished construction sites" in html
    )
    assert "Kein Baustellenhinweis" not in listing_part(html)
    assert (
        "Marktplatz" in html
        and "Lane restriction" in html
        and "until further notice" in html
    )
    assert (now - timedelta(days=3)).strftime("%b %d, %Y") in html

    # The site root lists them too (all below it); a collection lists its notices.
    browser.open(f"{site.absolute_url()}/@@construction-notices")
    assert entries(browser.contents, "current") == [
        "Läuft noch",
        "Bis auf Weiteres",
        "Nächste Woche",
    ]
    collection = api.content.create(
        site,
        "Collection",
        title="Vollsperrungen",
        query=[
            {
                "i": "impact",
                "o": "plone.app.querystring.operation.selection.any",
                "v": ["full_closure"],
            }
        ],
    )
    transaction.commit()
    browser.open(f"{collection.absolute_url()}/@@construction-notices")
    assert entries(browser.contents, "current") == ["Läuft noch"]
    assert entries(browser.contents, "finished") == ["Lange vorbei"]


def test_listing_empty(site, folder):
    api.content.transition(folder, "publish")
    transaction.commit()
    browser = browser_for(site)  # anonymous
    browser.open(f"{folder.absolute_url()}/@@construction-notices")
    assert "There are no current or upcoming construction sites." in browser.contents
    assert "Finished construction sites" not in browser.contents


def rest(site, method, url, user="editor", **body):
    import json

    browser = browser_for(site, user)
    browser.handleErrors = True  # the answer a REST client gets, errors included
    browser.addHeader("Accept", "application/json")
    if method == "GET":
        browser.open(url)
    else:
        browser.post(url, json.dumps(body), "application/json")
    return browser.headers["status"], json.loads(browser.contents or "null")


def test_rest_create_validates_and_keeps_dates_in_the_site_zone(site, folder):
    url = folder.absolute_url()
    base = {
        "@type": TYPE,
        "title": "Kanalarbeiten",
        "location": "Bahnhofstraße",
        "impact": "partial_closure",
        "messenger_topics": ["baustellen-verkehr"],
    }
    status, answer = rest(
        site,
        "POST",
        url,
        start="2025-06-10T05:00:00Z",
        end="2025-06-01T18:00:00Z",
        **base,
    )
    assert status.startswith("400")
    assert "The end must not be before the start" in str(answer)
    status, answer = rest(site, "POST", url, start="not a date", **base)
    assert status.startswith("400")
    assert "Invalid date" in str(answer)
    status, answer = rest(
        site,
        "POST",
        url,
        impact="road_rage",
        start="2025-06-10T05:00:00Z",
        **{k: v for k, v in base.items() if k != "impact"},
    )
    assert status.startswith("400")

    status, answer = rest(site, "POST", url, start="2025-06-10T05:00:00Z", **base)
    assert status.startswith("201"), answer
    transaction.begin()
    item = folder["kanalarbeiten"]
    # REST speaks UTC; stored is the same moment as Berlin wall-clock time, as the form stores it.
    assert (
        item.start == local(2025, 6, 10, 7)
        and item.start.tzinfo.zone == "Europe/Berlin"
    )
    assert IMessengerPush(item).messenger_topics == ["baustellen-verkehr"]
    # So the edit form shows 07:00 and saving it unchanged keeps the moment.
    browser = browser_for(site, "editor")
    browser.open(f"{item.absolute_url()}/edit")
    assert browser.getControl(name="form.widgets.start").value == "2025-06-10T07:00"
    browser.getControl(name="form.buttons.save").click()
    transaction.begin()
    assert folder["kanalarbeiten"].start == local(2025, 6, 10, 7)

    status, answer = rest(site, "GET", item.absolute_url())
    assert answer["start"] == "2025-06-10T05:00:00+00:00"
    assert answer["impact"]["token"] == "partial_closure"
    assert answer["location"] == "Bahnhofstraße"


def test_upgrade_to_1002_brings_type_behaviors_index_and_settings(portal):
    """The 1001 -> 1002 upgrade restores a site that lacks all of it, and keeps its settings."""
    types = portal.portal_types
    catalog = portal.portal_catalog
    types.manage_delObjects([TYPE])
    types["News Item"].behaviors = tuple(
        b for b in types["News Item"].behaviors if b != "collective.messenger.push"
    )
    catalog.delIndex("impact")
    catalog.delColumn("impact")
    news_behaviors = types["News Item"].behaviors

    setup = portal.portal_setup
    repository = portal.portal_repository
    repository.removePolicyFromContentType(TYPE, "at_edit_autoversion")
    registry = portal.portal_registry
    del registry.records["collective.messenger.public_states"]
    del registry.records["plone.icon.contenttype/construction_notice"]
    topics = registry["collective.messenger.topics"] = ["freibad | Freibad"]
    setup.setLastVersionForProfile("collective.messenger:default", "1001")

    setup.upgradeProfile("collective.messenger:default")

    assert setup.getLastVersionForProfile("collective.messenger:default") == ("1003",)
    assert registry["collective.messenger.public_states"] == ["published"]
    assert registry["plone.icon.contenttype/construction_notice"].endswith(
        "cone-striped.svg"
    )
    assert (
        registry["collective.messenger.topics"] == topics
    )  # the site's own settings stay

    assert TYPE in types.objectIds()
    assert types["News Item"].behaviors == news_behaviors + (
        "collective.messenger.push",
    )
    assert "impact" in catalog.indexes() and "impact" in catalog.schema()
    assert "at_edit_autoversion" in repository.getPolicyMap()[TYPE]
    assert (
        "News Item" in repository.getPolicyMap()
    )  # purge="false": Plone's types keep theirs


def test_uninstall_keeps_notices_usable(site, folder):
    """Uninstalling keeps the type (the notices are content): they open with Dexterity's
    generic view, the listing goes with the add-on's layer, the push behavior is removed."""
    item = notice(
        folder, "Brücke gesperrt", local(2025, 6, 2, 7), location="Mühlenbrücke"
    )
    api.content.get_view("installer", site, site.REQUEST).uninstall_product(
        "collective.messenger"
    )
    transaction.commit()

    assert TYPE in site.portal_types.objectIds()
    assert "collective.messenger.push" not in site.portal_types[TYPE].behaviors
    assert "collective.messenger.push" not in site.portal_types["News Item"].behaviors
    browser = browser_for(site, "editor")
    browser.open(item.absolute_url())
    assert browser.headers["status"].startswith("200")
    assert "Mühlenbrücke" in browser.contents
    assert (
        "construction-notice-impact" not in browser.contents
    )  # our page is gone with the layer
    with pytest.raises(NotFound):
        browser.open(f"{folder.absolute_url()}/@@construction-notices")


def test_screenshots_of_the_page_and_the_listing(live_site, acceptance, page):
    portal = acceptance["portal"]
    folder = prepare(portal)
    now = datetime.now(BERLIN).replace(minute=0, second=0, microsecond=0)
    item = notice(
        folder,
        "Hauptstraße voll gesperrt",
        now - timedelta(days=2),
        now + timedelta(days=12),
        description="Die Hauptstraße wird zwischen Marktplatz und Bahnhof erneuert.",
        location="Hauptstraße zwischen Marktplatz und Bahnhof",
        detour="Über die Ringstraße und die Bahnhofstraße",
    )
    item.image = NamedBlobImage(data=striped_image(), filename="baustelle.png")
    notice(
        folder,
        "Fahrbahnverengung Lindenallee",
        now + timedelta(days=5),
        now + timedelta(days=6),
        impact="lane_restriction",
        location="Lindenallee",
    )
    notice(
        folder,
        "Gehweg Schulstraße",
        now - timedelta(days=40),
        now - timedelta(days=30),
        impact="information_only",
        location="Schulstraße",
    )
    for obj in [folder, *folder.objectValues()]:
        api.content.transition(obj, "publish")
    transaction.commit()

    page.goto(f"{live_site}/baustellen/hauptstrasse-voll-gesperrt")
    badge = page.locator(".construction-notice-impact")
    assert badge.inner_text() == "Full closure"
    assert (
        page.locator(".construction-notice-location").inner_text()
        == "Hauptstraße zwischen Marktplatz und Bahnhof"
    )
    page.screenshot(
        path=os.path.join(SCREENSHOTS, "construction-notice-view.png"), full_page=True
    )

    page.goto(f"{live_site}/baustellen/@@construction-notices")
    assert page.locator(
        ".construction-notices-current .construction-notices-title"
    ).all_inner_texts() == [
        "Hauptstraße voll gesperrt",
        "Fahrbahnverengung Lindenallee",
    ]
    assert page.locator(
        ".construction-notices-finished .construction-notices-title"
    ).all_inner_texts() == ["Gehweg Schulstraße"]
    page.screenshot(
        path=os.path.join(SCREENSHOTS, "construction-notices-listing.png"),
        full_page=True,
    )
