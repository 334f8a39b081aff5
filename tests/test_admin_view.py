"""``@@messenger-subscribers``: counts per topic, channel, state and day, per role, as CSV,
and never an address."""

import csv
import io
from datetime import timedelta

import lxml.html
import pytest
import requests
import transaction
from conftest import PASSWORD

from collective.messenger.subscribers import Consent
from collective.messenger.subscribers import get_store
from collective.messenger.subscribers.clock import utcnow

CONSENT = Consent("abc123", "portlet")

# Addresses distinctive enough that finding them in a page cannot be chance.
TELEGRAM_ACTIVE = "700100200300"
TELEGRAM_LEFT = "700100200301"
SIGNAL_ACTIVE = "+4915112345678"
WHATSAPP_GONE = "4917612345678"
SIGNAL_PENDING = "+4915199988877"
ADDRESSES = (
    TELEGRAM_ACTIVE,
    TELEGRAM_LEFT,
    SIGNAL_ACTIVE,
    WHATSAPP_GONE,
    SIGNAL_PENDING,
)


def address_spellings():
    """Each address as stored and without "+" or country code, as a page might format it."""
    spellings = set(ADDRESSES)
    spellings.update(a.lstrip("+") for a in ADDRESSES)
    spellings.update(a[3:] for a in ADDRESSES if a.startswith("+49"))  # 15112345678
    return spellings


def populate(portal):
    """Two active, one unsubscribed, one unreachable, two pending subscribers; committed.

    Returns the subscribers' ids by name.
    """
    store = get_store(portal)

    def confirmed(channel, topics, address):
        code_channel = channel in ("signal", "threema")
        pending = store.add_pending(
            channel, topics, "de", CONSENT, address=address if code_channel else None
        )
        return store.activate(pending, address=None if code_channel else address)

    ids = {
        "active": confirmed(
            "telegram", ["baustellen-verkehr", "warnungen"], TELEGRAM_ACTIVE
        ).id,
        "signal": confirmed("signal", ["veranstaltungen"], SIGNAL_ACTIVE).id,
    }
    left = confirmed("telegram", ["baustellen-verkehr"], TELEGRAM_LEFT)
    store.unsubscribe(left)
    ids["left"] = left.id
    gone = confirmed("whatsapp", ["warnungen"], WHATSAPP_GONE)
    store.mark_unreachable("whatsapp", WHATSAPP_GONE)
    ids["gone"] = gone.id
    ids["pending_signal"] = store.add_pending(
        "signal", ["rathaus-aktuell"], "de", CONSENT, address=SIGNAL_PENDING
    ).id
    ids["pending_telegram"] = store.add_pending(
        "telegram", ["warnungen"], "en", CONSENT
    ).id
    transaction.commit()
    return ids


def get(url, user=None, **kw):
    return requests.get(
        url,
        auth=(user, PASSWORD) if user else None,
        timeout=30,
        allow_redirects=False,
        **kw,
    )


def is_refused(response):
    """Unauthorized: 401/403, or Plone's redirect of an anonymous visitor to the login form."""
    if response.status_code in (401, 403):
        return True
    return (
        response.status_code in (301, 302, 303)
        and "login" in response.headers["Location"]
    )


def cells(document, selector):
    return [
        " ".join(cell.text_content().split()) for cell in document.cssselect(selector)
    ]


@pytest.fixture
def populated(live_site, acceptance):
    return populate(acceptance["portal"])


def test_counts_for_an_editor(live_site, populated):
    response = get(f"{live_site}/@@messenger-subscribers", "editor")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    page = lxml.html.fromstring(response.text)

    def total(state):
        return page.cssselect(f"#messenger-total-{state} dd")[0].text_content().strip()

    assert [
        total(s) for s in ("active", "pending", "unsubscribed", "unreachable", "all")
    ] == ["2", "2", "1", "1", "6"]
    # Topic x channel, active: Telegram, WhatsApp, Signal, Threema, all, unconfirmed.
    assert cells(page, "tr[data-topic='baustellen-verkehr'] td") == [
        "1",
        "0",
        "0",
        "0",
        "1",
        "0",
    ]
    assert cells(page, "tr[data-topic='warnungen'] td") == [
        "1",
        "0",
        "0",
        "0",
        "1",
        "1",
    ]
    assert cells(page, "tr[data-topic='veranstaltungen'] td") == [
        "0",
        "0",
        "1",
        "0",
        "1",
        "0",
    ]
    assert cells(page, "tr[data-topic='rathaus-aktuell'] td") == [
        "0",
        "0",
        "0",
        "0",
        "0",
        "1",
    ]
    assert cells(page, "#messenger-topics-everyone td") == [
        "1",
        "0",
        "1",
        "0",
        "2",
        "2",
    ]
    assert "Baustellen &amp; Verkehr" in response.text
    # Channel x state: pending, active, unsubscribed, unreachable, all.
    assert cells(page, "tr[data-channel='telegram'] td") == ["1", "1", "1", "0", "3"]
    assert cells(page, "tr[data-channel='whatsapp'] td") == ["0", "0", "0", "1", "1"]
    assert cells(page, "tr[data-channel='signal'] td") == ["1", "1", "0", "0", "2"]
    assert "confirmation in the messenger: 2." in " ".join(
        cells(page, "#messenger-pending p")
    )
    # The chart: one accessible image, its description and table give today's numbers.
    svg = page.cssselect("#messenger-daily svg")[0]
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "messenger-chart-title messenger-chart-desc"
    desc = page.cssselect("#messenger-chart-desc")[0].text_content()
    assert (
        "confirmed signups 4, leavers (unsubscribed or no longer reachable) 2." in desc
    )
    days = page.cssselect("#messenger-daily-numbers tbody tr")
    assert len(days) == 30
    today = utcnow().date().isoformat()
    assert cells(page, "#messenger-daily-numbers tbody tr:first-child th") == [today]
    assert cells(page, "#messenger-daily-numbers tbody tr:first-child td") == ["4", "2"]
    assert len(svg.cssselect("rect")) == 30 * 2 + 2  # two bars a day, two legend keys
    # Counts only: no lookup form for an editor.
    assert not page.cssselect("#messenger-gdpr, #messenger-lookup")


def test_chart_counts_only_the_last_30_days(live_site, acceptance):
    store = get_store(acceptance["portal"])

    def joined_and_left(days_ago, chat):
        moment = utcnow() - timedelta(days=days_ago)
        pending = store.add_pending(
            "telegram", ["warnungen"], "de", CONSENT, now=moment
        )
        store.unsubscribe(store.activate(pending, address=chat, now=moment), now=moment)

    # 31 days ago first: the store keeps day counters from the first day it counts on
    # (a later back-dated day before that would find none).
    joined_and_left(31, "123")
    joined_and_left(29, "124")  # the chart's first day
    joined_and_left(1, "125")
    transaction.commit()
    page = lxml.html.fromstring(
        get(f"{live_site}/@@messenger-subscribers", "reviewer").text
    )
    rows = page.cssselect("#messenger-daily-numbers tbody tr")  # newest first
    assert [cells(row, "td") for row in rows[:3]] == [
        ["0", "0"],
        ["1", "1"],
        ["0", "0"],
    ]
    assert cells(rows[-1], "td") == ["1", "1"]
    assert cells(rows[-1], "th") == [(utcnow() - timedelta(days=29)).date().isoformat()]
    desc = page.cssselect("#messenger-chart-desc")[0].text_content()
    assert (
        "confirmed signups 2, leavers (unsubscribed or no longer reachable) 2." in desc
    )


@pytest.mark.parametrize("user", ["manager", "siteadmin"])
def test_admins_see_counts_and_the_lookup_form(live_site, populated, user):
    response = get(f"{live_site}/@@messenger-subscribers", user)
    assert response.status_code == 200
    page = lxml.html.fromstring(response.text)
    assert cells(page, "#messenger-total-active dd") == ["2"]
    form = page.cssselect("#messenger-gdpr form#messenger-lookup")[0]
    assert form.get("method") == "post"
    assert form.get("action") == f"{live_site}/@@messenger-subscriber-data"
    assert form.cssselect("input[name='_authenticator']")


@pytest.mark.parametrize("user", ["member", None])
def test_members_and_anonymous_are_refused(live_site, populated, user):
    for path in ("@@messenger-subscribers", "@@messenger-subscribers/counts.csv"):
        response = get(f"{live_site}/{path}", user)
        assert is_refused(response), (path, response.status_code)
        assert "messenger-total-active" not in response.text


@pytest.mark.parametrize(
    "user", ["manager", "siteadmin", "editor", "reviewer", "member", None]
)
def test_no_address_on_any_page(live_site, populated, user):
    pages = [
        "@@messenger-subscribers",
        "@@messenger-subscribers/counts.csv",
        "@@messenger-subscriber-data",
    ]
    seen = [get(f"{live_site}/{path}", user).text for path in pages]
    assert seen[0]  # something was read
    for text in seen:
        for address in address_spellings():
            assert address not in text


def test_counts_csv(live_site, populated, acceptance):
    # A topic title a spreadsheet would run as a formula.
    from plone import api

    lines = api.portal.get_registry_record("collective.messenger.topics")
    api.portal.set_registry_record(
        "collective.messenger.topics",
        [*lines, 'formel | =HYPERLINK("http://x") | Test'],
    )
    transaction.commit()
    response = get(f"{live_site}/@@messenger-subscribers/counts.csv", "editor")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="messenger-subscribers-'
    )
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == ["Topic", "Topic id", "Messenger", "State", "Subscribers"]
    data = {tuple(row[:4]): int(row[4]) for row in rows[1:]}
    assert data[("All subscribers", "", "Telegram", "Active")] == 1
    assert data[("All subscribers", "", "Telegram", "Unsubscribed")] == 1
    assert data[("All subscribers", "", "WhatsApp", "Unreachable")] == 1
    assert data[("All subscribers", "", "Signal", "Unconfirmed")] == 1
    assert (
        data[("Baustellen & Verkehr", "baustellen-verkehr", "Telegram", "Active")] == 1
    )
    assert (
        data[("Baustellen & Verkehr", "baustellen-verkehr", "Telegram", "Unsubscribed")]
        == 1
    )
    assert data[("Warnungen", "warnungen", "WhatsApp", "Unreachable")] == 1
    assert data[('\'=HYPERLINK("http://x")', "formel", "Threema", "Active")] == 0
    assert len(rows) == 1 + 4 * 4 * (
        1 + 5
    )  # header; all + 5 topics, each 4 channels x 4 states
    assert sum(v for k, v in data.items() if k[0] == "All subscribers") == 6


FORMULA_TITLES = [
    'Freibad;=HYPERLINK("http://x";"y")',  # German Excel splits at ";": "=HYPERLINK(...)" alone
    "Sport, +1+2",
    "Markt\t@SUMME(A1:A2)",
    "Kultur;  -2+3",
    "Musik,＝1+1",  # a full-width equals sign, which Excel treats like "="
]
FORMULA_STARTS = ("=", "+", "-", "@", "＝", "＋", "－", "＠")


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_counts_csv_has_no_formula_after_any_separator(
    live_site, populated, acceptance, delimiter
):
    """Opened with any separator a spreadsheet may guess (German Excel: ";"), no cell can start
    a formula, also where a title contains that separator."""
    from plone import api

    lines = api.portal.get_registry_record("collective.messenger.topics")
    extra = [
        f"formel-{number} | {title} | Test"
        for number, title in enumerate(FORMULA_TITLES)
    ]
    api.portal.set_registry_record("collective.messenger.topics", [*lines, *extra])
    transaction.commit()
    response = get(f"{live_site}/@@messenger-subscribers/counts.csv", "editor")
    assert response.status_code == 200
    text = response.content.decode("utf-8")[1:]
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    cells = [cell for row in rows for cell in row]
    assert any("HYPERLINK" in cell for cell in cells)  # the titles are there
    formulas = [cell for cell in cells if cell.lstrip(" ").startswith(FORMULA_STARTS)]
    assert formulas == []
    # Read as it was written, each title is whole, with an apostrophe before each formula start.
    titles = {row[0] for row in csv.reader(io.StringIO(text))}
    assert 'Freibad;\'=HYPERLINK("http://x";"y")' in titles
    assert "Sport, '+1+2" in titles
    assert "Kultur;  '-2+3" in titles


@pytest.mark.parametrize(
    "user, linked", [("editor", True), ("siteadmin", True), ("member", False)]
)
def test_user_menu_links_the_overview(live_site, user, linked):
    page = lxml.html.fromstring(get(live_site, user).text)
    links = page.cssselect("a[href$='/@@messenger-subscribers']")
    assert bool(links) is linked
