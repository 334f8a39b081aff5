"""The signup portlet: added in @@manage-portlets with preselected topics, shows the signup form."""

import re
from urllib.parse import urlencode

import transaction
from conftest import browser_for
from plone.portlets.interfaces import IPortletAssignmentMapping
from plone.portlets.interfaces import IPortletManager
from test_signup_page import enable_channels
from zope.component import getMultiAdapter
from zope.component import getUtility

from collective.messenger.browser.portlet import Assignment
from collective.messenger.subscribers import get_store

ADDVIEW = "collective.messenger.SignupPortlet"


def right_column(context):
    manager = getUtility(IPortletManager, name="plone.rightcolumn", context=context)
    return getMultiAdapter((context, manager), IPortletAssignmentMapping)


def assign(site, **data):
    mapping = right_column(site)
    mapping["messenger-signup"] = Assignment(**data)
    transaction.commit()
    return mapping["messenger-signup"]


def portlet_html(html):
    match = re.search(
        r'<section class="card portlet portlet-messenger-signup".*?</section>',
        html,
        re.S,
    )
    return match.group(0) if match else None


def test_site_administrator_adds_portlet_with_preselected_topics(site):
    enable_channels(site, "telegram")
    browser = browser_for(site, "siteadmin")
    browser.open(f"{site.absolute_url()}/@@manage-portlets")
    assert f"+/{ADDVIEW}" in browser.contents
    browser.open(
        f"{site.absolute_url()}/++contextportlets++plone.rightcolumn/+/{ADDVIEW}"
    )
    assert "Add messenger signup portlet" in browser.contents
    # The topics of the control panel are offered as checkboxes.
    topics = browser.getControl(name="form.widgets.topics:list")
    assert set(topics.options) == {
        "baustellen-verkehr",
        "veranstaltungen",
        "rathaus-aktuell",
        "warnungen",
    }
    browser.getControl(name="form.widgets.header").value = "Stay informed"
    topics.value = ["baustellen-verkehr", "warnungen"]
    browser.getControl(name="form.buttons.add").click()
    assert browser.headers["status"].startswith("200")

    transaction.begin()
    [assignment] = [a for a in right_column(site).values() if isinstance(a, Assignment)]
    assert assignment.header == "Stay informed"
    assert sorted(assignment.topics) == ["baustellen-verkehr", "warnungen"]
    assert assignment.show_descriptions is True

    # Anonymous visitors see the form with those topics ticked, posting to the signup page.
    anonymous = browser_for(site)
    anonymous.open(site.absolute_url())
    html = portlet_html(anonymous.contents)
    assert html is not None and "Stay informed" in html
    checked = re.findall(r'<input[^>]*name="topics"[^>]*>', html)
    ticked = [
        re.search(r'value="([^"]+)"', tag).group(1)
        for tag in checked
        if "checked" in tag
    ]
    assert ticked == ["baustellen-verkehr", "warnungen"]
    assert f'action="{site.absolute_url()}/@@messenger-signup"' in html
    assert re.search(r'name="path"[^>]*value="portlet"', html)
    assert "Baustellen, Straßensperrungen und Umleitungen" in html  # descriptions shown

    # ... and it can be edited.
    browser.open(
        f"{site.absolute_url()}/++contextportlets++plone.rightcolumn/{assignment.__name__}/edit"
    )
    browser.getControl(name="form.widgets.show_descriptions:list").value = []
    browser.getControl(name="form.buttons.apply").click()
    transaction.begin()
    assert right_column(site)[assignment.__name__].show_descriptions is False


def test_signup_through_the_portlet(site):
    enable_channels(site, "telegram")
    assign(site, topics=["warnungen"], show_descriptions=False)
    browser = browser_for(site)
    browser.open(site.absolute_url())
    html = portlet_html(browser.contents)
    assert "Baustellen, Straßensperrungen" not in html
    request_key = re.search(r'name="request_key"[^>]*value="([^"]+)"', html).group(1)
    form_token = re.search(r'name="form_token"[^>]*value="([^"]+)"', html).group(1)
    data = {
        "step": "signup",
        "path": "portlet",
        "request_key": request_key,
        "topics": ["warnungen"],
        "channel": "telegram",
        "consent": "1",
        "website": "",
        "form_token": form_token,
    }
    browser.post(
        f"{site.absolute_url()}/@@messenger-signup", urlencode(data, doseq=True)
    )
    assert "Open Telegram" in browser.contents
    # On the signup page the portlet does not offer a second form.
    assert portlet_html(browser.contents) is None
    transaction.begin()
    [pending] = list(get_store(site)._confirm_tokens.values())
    subscriber = get_store(site).get(pending[0])
    assert subscriber.consent.path == "portlet" and subscriber.topics == ("warnungen",)


def test_portlet_hides_without_channels(site):
    assign(site, header="Stay informed", topics=["warnungen"])
    browser = browser_for(site)
    browser.open(site.absolute_url())
    assert portlet_html(browser.contents) is None
    assert "Stay informed" not in browser.contents


def test_two_forms_on_one_page_have_distinct_ids(site):
    enable_channels(site, "telegram")
    mapping = right_column(site)
    mapping["one"] = Assignment(header="One")
    mapping["two"] = Assignment(header="Two")
    transaction.commit()
    browser = browser_for(site)
    browser.open(site.absolute_url())
    ids = re.findall(r'\sid="([^"]+)"', browser.contents)
    assert len([i for i in ids if i.startswith("messenger-portlet-")]) > 10
    assert len(ids) == len(set(ids))
