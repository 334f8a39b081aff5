"""``@@messenger-preview``: each enabled channel's message, rendered by the worker's own code,
shown safely (Telegram's HTML escaped as markup, or reduced to plain formatting)."""

import lxml.html
import pytest
import transaction
from conftest import browser_for
from status_support import news
from status_support import prepare
from status_support import publish
from status_support import run_worker
from status_support import subscribe
from status_support import text_of

from messenger_worker.settings import CHANNELS

NASTY_TITLE = 'Sperrung <Hauptstraße> & "Co"'
NASTY_TEASER = (
    "<script>alert('teaser')</script> Umleitung über die <b onclick=x>Ringstraße</b>."
)


@pytest.fixture
def portal(site, sandbox):
    return prepare(site, sandbox, channels=CHANNELS)


def open_preview(item, user="editor", query=""):
    browser = browser_for(item, user)
    browser.handleErrors = True
    browser.open(f"{item.absolute_url()}/@@messenger-preview{query}")
    return browser


def section(browser, channel):
    found = lxml.html.fromstring(browser.contents).xpath(
        f'//section[@id="messenger-preview-{channel}"]'
    )
    return found[0] if found else None


def test_every_enabled_channel_rendered(portal, sandbox):
    item = news(portal, title="Vollsperrung Hauptstraße")
    browser = open_preview(item)
    for channel in CHANNELS:
        assert section(browser, channel) is not None, channel
    telegram = section(browser, "telegram")
    assert telegram.xpath('.//div[@class="messenger-telegram-text"]/strong/text()') == [
        "Vollsperrung Hauptstraße"
    ]
    assert telegram.xpath('.//pre[@class="messenger-markup"]/text()')[0].startswith(
        "<b>Vollsperrung Hauptstraße</b>"
    )
    assert telegram.xpath(".//a[contains(@class, 'btn')]/@href") == [
        item.absolute_url()
    ]

    whatsapp = section(browser, "whatsapp")
    values = [text_of(dd) for dd in whatsapp.xpath(".//dd")]
    assert values[0] == "Vollsperrung Hauptstraße"  # {{1}}
    assert values[1].startswith(
        "Vom 23. bis 27. November"
    )  # {{2}}: teaser, dates, place
    assert (
        values[2] == "plone/vollsperrung-hauptstrasse"
    )  # the button's {{1}}: the path
    template = sandbox.channel_settings("whatsapp")["template_name"]
    assert whatsapp.xpath(".//p/code/text()") == [template]

    signal = text_of(section(browser, "signal"))
    assert "**Vollsperrung Hauptstraße**" in signal
    threema = section(browser, "threema").xpath(".//pre")[0].text_content()
    assert threema.startswith("Vollsperrung Hauptstraße\n")


def test_markup_in_content_never_becomes_markup(portal):
    item = news(portal, title=NASTY_TITLE)
    item.description = NASTY_TEASER
    transaction.commit()
    browser = open_preview(item)
    page = lxml.html.fromstring(browser.contents)
    assert not [s for s in page.xpath("//script") if "alert(" in (s.text or "")]
    assert not page.xpath("//*[@onclick]")
    assert not page.xpath("//hauptstraße")
    telegram = section(browser, "telegram")
    bubble = telegram.xpath('.//div[@class="messenger-telegram-text"]')[0]
    assert [child.tag for child in bubble.iter() if child is not bubble] == [
        "strong",
        "br",
        "br",
        "br",
        "br",
    ]
    assert bubble.xpath("./strong/text()") == [NASTY_TITLE]
    assert "<script>alert('teaser')</script>" in bubble.text_content()  # shown, as text
    markup = telegram.xpath('.//pre[@class="messenger-markup"]/text()')[0]
    assert markup.startswith('<b>Sperrung &lt;Hauptstraße&gt; &amp; "Co"</b>')


def test_preview_is_what_the_worker_sends(portal, plone_redis, sandbox):
    subscribe([1001])
    subscribe(["ABCD1234"], channel="threema")
    item = news(portal)
    markup = section(open_preview(item), "telegram").xpath(
        './/pre[@class="messenger-markup"]/text()'
    )[0]
    threema = section(open_preview(item), "threema").xpath(".//pre")[0].text_content()
    publish(item)
    run_worker(plone_redis)
    [sent] = sandbox.messages(channel="telegram", recipient="1001")
    assert sent["raw"] == markup
    [sent] = sandbox.messages(channel="threema")
    assert sent["text"] == threema


def test_update_preview_and_bad_kind(portal):
    item = news(portal)
    browser = open_preview(item, query="?kind=update")
    assert (
        section(browser, "threema")
        .xpath(".//pre")[0]
        .text_content()
        .startswith("Update: Vollsperrung")
    )
    browser.open(f"{item.absolute_url()}/@@messenger-preview?kind=zzz")
    assert browser.headers["status"].startswith("400")
    assert "There is no preview of this kind" in browser.contents


def test_no_channel_switched_on(site):
    item = news(prepare(site))
    browser = open_preview(item)
    assert "No messenger is switched on in the control panel." in browser.contents


def test_no_topics_warned(portal):
    item = news(portal, topics=())
    assert "No topics chosen: nothing will be sent." in open_preview(item).contents


@pytest.mark.parametrize("user", [None, "member"])
def test_others_get_no_preview(portal, user):
    item = news(portal)
    publish(item)
    browser = open_preview(item, user)
    assert 'id="messenger-preview"' not in browser.contents
