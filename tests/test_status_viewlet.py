"""The Messenger box on an item: what publishing will do, each post's figures, the buttons.

Real parts throughout: the functional site, Plone's Redis, the publishing core, the worker's
job code run in this process (SimpleWorker) against the sandbox over HTTP.
"""

import re

import lxml.html
import pytest
import transaction
from conftest import browser_for
from DateTime import DateTime
from plone import api
from rq import Queue
from rq.serializers import JSONSerializer
from status_support import authenticator
from status_support import news
from status_support import prepare
from status_support import publish
from status_support import run_worker
from status_support import status_box
from status_support import subscribe
from status_support import text_of

from messenger_worker import keys
from messenger_worker.testing import free_port


@pytest.fixture
def portal(site, sandbox):
    return prepare(site, sandbox)


def open_item(item, user="editor"):
    browser = browser_for(item, user)
    browser.handleErrors = True
    browser.open(item.absolute_url())
    return browser


def token_for(item, user="editor"):
    """Plone's authenticator for ``user`` (the box has no form of its own any more)."""
    browser = open_item(item, user)
    browser.open(item.absolute_url() + "/edit")
    return authenticator(browser.contents)


def box_text(browser):
    box = status_box(browser.contents)
    assert box is not None, "no Messenger box on the page"
    return text_of(box)


def post_articles(browser):
    return status_box(browser.contents).xpath(".//article[@data-post-id]")


def channel_row(article, channel):
    cells = article.xpath(f'.//td[@data-channel="{channel}"][@data-counter]')
    return {cell.get("data-counter"): int(cell.text_content()) for cell in cells}


def queued_titles(redis):
    titles = []
    for name in keys.QUEUES:
        for job in Queue(name, connection=redis, serializer=JSONSerializer).jobs:
            titles.append(job.description)
    return titles


def test_before_publishing_the_box_says_who_will_get_it(portal):
    subscribe([1001, 1002, 1003])
    subscribe(["+4915112345671"], channel="signal")
    subscribe([1009], topics=("veranstaltungen",))  # another topic: not counted
    item = news(portal)
    browser = open_item(item)
    text = box_text(browser)
    assert (
        "When this item is published, it goes to 4 subscribers of the topics Baustellen"
        in text
    )
    box = status_box(browser.contents)
    counts = {
        li.get("data-channel"): text_of(li) for li in box.xpath(".//li[@data-channel]")
    }
    assert counts == {"signal": "Signal: 1", "telegram": "Telegram: 3"}
    assert box.xpath('.//a[@id="messenger-preview-link"]/@href') == [
        f"{item.absolute_url()}/@@messenger-preview"
    ]
    assert not box.xpath(".//button")  # nothing to send before it is published
    assert not post_articles(browser)


def test_no_topics_nothing_will_be_sent(portal):
    item = news(portal, topics=())
    assert "No topics chosen: nothing will be sent." in box_text(open_item(item))
    off = news(portal, title="Nur auf der Website", send=False)
    assert "Sending on publish is switched off for this item" in box_text(
        open_item(off)
    )


def test_published_post_shows_figures_and_finishes(portal, plone_redis, sandbox):
    sandbox.configure(telegram={"blocked": ["1003"]})
    subscribe([1001, 1002, 1003])
    subscribe(["+4915112345671"], channel="signal")
    item = news(portal)
    publish(item)

    browser = open_item(item)
    [article] = post_articles(browser)
    text = text_of(article)
    assert "First post" in text
    assert "Sending" in text and "0 of 4 recipients done" in text
    assert channel_row(article, "telegram") == {
        "queued": 3,
        "sent": 0,
        "retrying": 0,
        "gone": 0,
        "failed": 0,
    }
    assert channel_row(article, "signal")["queued"] == 1
    bar = article.xpath('.//*[@role="progressbar"]')[0]
    assert bar.get("aria-valuenow") == "0"
    assert (
        status_box(browser.contents).get("data-active") == "true"
    )  # the script keeps polling

    run_worker(plone_redis)
    browser.reload()
    [article] = post_articles(browser)
    text = text_of(article)
    assert "Sent" in text and "4 of 4 recipients done" in text
    assert channel_row(article, "telegram") == {
        "queued": 3,
        "sent": 2,
        "retrying": 0,
        "gone": 1,
        "failed": 0,
    }
    assert channel_row(article, "signal") == {
        "queued": 1,
        "sent": 1,
        "retrying": 0,
        "gone": 0,
        "failed": 0,
    }
    assert article.xpath('.//*[@role="progressbar"]')[0].get("aria-valuenow") == "100"
    first, last = article.xpath('.//time[@data-channel="telegram"]/@datetime')
    assert first.startswith("20") and last >= first
    assert (
        status_box(browser.contents).get("data-active") == "false"
    )  # nothing left to poll for
    assert len(sandbox.messages(channel="telegram")) == 2


def confirm(browser, button):
    """Follow a button of the box to its confirmation page."""
    browser.getLink(id=button).click()
    assert "/@@messenger-confirm?action=" in browser.url
    return lxml.html.fromstring(browser.contents)


def confirmation_counts(page):
    return {
        li.get("data-channel"): int(li.xpath(".//strong")[0].text_content())
        for li in page.xpath(
            '//*[@id="messenger-confirm-recipients"]//li[@data-channel]'
        )
    }


def entries_of(item):
    from plone.uuid.interfaces import IUUID

    from collective.messenger.publishing.outbox import get_outbox

    transaction.begin()
    return get_outbox().entries_for(IUUID(item))


def test_send_update_and_send_again(portal, plone_redis):
    subscribe([1001])
    item = news(portal)
    publish(item)
    browser = open_item(item)
    confirm(browser, "messenger-send-update")
    browser.getControl(name="lead").value = "Die Sperrung dauert bis Freitag."
    browser.getControl("Show in the preview").click()
    browser.getControl("Send the update to 1 subscribers").click()
    assert browser.url == item.absolute_url()
    assert "Update" in box_text(browser)
    assert any(
        title.startswith("Update: Vollsperrung") for title in queued_titles(plone_redis)
    )

    confirm(browser, "messenger-send-again")
    browser.getControl("Send to 1 subscribers now").click()
    kinds = [
        text_of(a.xpath(".//h3")[0]).split(" of ")[0] for a in post_articles(browser)
    ]
    assert kinds == ["Sent again", "Update", "First post"]  # newest first
    assert [e.kind for e in entries_of(item)] == ["initial", "update", "again"]


def test_a_click_on_send_again_only_shows_who_would_get_it(
    portal, plone_redis, sandbox
):
    """The issue: one curious click sent the post again to every subscriber."""
    from messenger_worker.ledger import GONE_KEY

    people = subscribe([1001, 1002, 1003])
    subscribe(["+4915112345671"], channel="signal")
    subscribe([1009], topics=("veranstaltungen",))  # another topic
    item = news(portal)
    publish(item)
    run_worker(plone_redis)
    # A worker found 1003 gone (blocked the bot) after this post; Plone has not absorbed it yet.
    plone_redis.hset(GONE_KEY, f"telegram:{people[2].id}", "{}")
    before = len(sandbox.messages())

    browser = open_item(item)
    page = confirm(browser, "messenger-send-again")
    assert confirmation_counts(page) == {
        "signal": 1,
        "telegram": 2,
    }  # as the send will count
    assert text_of(page.xpath('//*[@id="messenger-confirm-total"]')[0]) == "3"
    assert page.xpath(
        '//*[@id="messenger-preview-telegram"]'
    )  # the message as it would look
    assert "Vollsperrung der Hauptstraße" in text_of(
        page.xpath('//*[@id="messenger-preview-signal"]')[0]
    )
    assert queued_titles(plone_redis) == []  # the page itself sent nothing
    assert len(entries_of(item)) == 1

    browser.getLink(id="messenger-confirm-back").click()  # changed their mind
    assert browser.url == item.absolute_url()
    run_worker(plone_redis)
    assert len(sandbox.messages()) == before

    confirm(browser, "messenger-send-again")
    browser.getControl("Send to 3 subscribers now").click()
    assert "Messenger: sending to 3 subscribers." in browser.contents
    again = entries_of(item)[-1]
    assert again.kind == "again" and dict(again.recipients) == {
        "signal": 1,
        "telegram": 2,
    }
    run_worker(plone_redis)
    assert len(sandbox.messages()) == before + 3


def test_send_update_asks_what_is_new_and_shows_it_in_the_preview(
    portal, plone_redis, sandbox
):
    subscribe([1001])
    item = news(portal)
    publish(item)
    run_worker(plone_redis)
    browser = open_item(item)
    page = confirm(browser, "messenger-send-update")
    assert page.xpath('//input[@name="lead"][@required][@maxlength="200"]')
    assert not page.xpath(
        '//*[@id="messenger-confirm-send"]'
    )  # first the line, then the preview

    browser.getControl("Show in the preview").click()  # without a line
    assert (
        "Say in one line what is new: it leads the update." not in browser.contents
    )  # not yet an error
    assert 'id="messenger-confirm-send"' not in browser.contents

    browser.getControl(name="lead").value = "  Die Sperrung   dauert bis Freitag.  "
    browser.getControl("Show in the preview").click()
    page = lxml.html.fromstring(browser.contents)
    telegram = text_of(page.xpath('//*[@id="messenger-preview-telegram"]')[0])
    assert (
        "Update: Vollsperrung der Hauptstraße Die Sperrung dauert bis Freitag. Vom 23."
        in telegram
    )
    assert "Die Sperrung dauert bis Freitag." in text_of(
        page.xpath('//*[@id="messenger-preview-signal"]')[0]
    )
    assert queued_titles(plone_redis) == [] and len(entries_of(item)) == 1

    browser.getControl("Send the update to 1 subscribers").click()
    run_worker(plone_redis)
    [_first, update] = [m["text"] for m in sandbox.messages(channel="telegram")]
    assert update.startswith(
        "Update: Vollsperrung der Hauptstraße\n\nDie Sperrung dauert bis Freitag.\n\nVom 23."
    )


def test_send_update_refuses_a_missing_or_too_long_line(portal, plone_redis):
    subscribe([1001])
    item = news(portal)
    publish(item)
    browser = open_item(item)
    token = token_for(item)
    queued = queued_titles(plone_redis)
    url = f"{item.absolute_url()}/@@messenger-send"
    browser.post(url, f"_authenticator={token}&action=update&confirmed=1&lead=")
    assert browser.headers["status"].startswith("400")
    assert "Say in one line what is new: it leads the update." in browser.contents
    browser.post(
        url, f"_authenticator={token}&action=update&confirmed=1&lead={'x' * 201}"
    )
    assert browser.headers["status"].startswith("400")
    assert "at most 200 characters; it has 201." in browser.contents
    assert queued_titles(plone_redis) == queued and len(entries_of(item)) == 1


def test_send_without_the_confirmation_goes_to_the_confirmation(portal, plone_redis):
    """An old page or a script posting straight to @@messenger-send sends nothing."""
    subscribe([1001])
    item = news(portal)
    publish(item)
    browser = open_item(item)
    token = token_for(item)
    queued = queued_titles(plone_redis)
    browser.post(
        f"{item.absolute_url()}/@@messenger-send",
        f"_authenticator={token}&action=again",
    )
    assert browser.url == f"{item.absolute_url()}/@@messenger-confirm?action=again"
    assert 'id="messenger-confirm-form"' in browser.contents
    assert queued_titles(plone_redis) == queued and len(entries_of(item)) == 1
    # The confirmation's own POST without Plone's token is refused.
    browser.post(f"{item.absolute_url()}/@@messenger-send", "action=again&confirmed=1")
    assert browser.headers["status"].startswith("403")
    assert queued_titles(plone_redis) == queued and len(entries_of(item)) == 1


def test_confirmation_is_for_editors_only_and_knows_its_actions(portal):
    item = news(portal)
    publish(item)
    browser = open_item(item, "reviewer")
    browser.open(f"{item.absolute_url()}/@@messenger-confirm?action=again")
    assert 'id="messenger-confirm"' not in browser.contents
    anonymous = open_item(item, None)
    anonymous.open(f"{item.absolute_url()}/@@messenger-confirm?action=again")
    assert 'id="messenger-confirm"' not in anonymous.contents
    editor = open_item(item)
    editor.open(f"{item.absolute_url()}/@@messenger-confirm?action=delete")
    assert (
        editor.headers["status"].startswith("400")
        and editor.contents == "Unknown action."
    )
    editor.open(
        f"{item.absolute_url()}/@@messenger-confirm?action=again&error=Ihr+Konto+ist+gesperrt"
    )
    assert (
        "Ihr Konto ist gesperrt" not in editor.contents
    )  # no text from the address on the page
    assert editor.headers["status"].startswith("200")
    assert (
        "Nobody follows the topics of this item yet" in editor.contents
    )  # no subscribers here
    assert 'id="messenger-confirm-form"' not in editor.contents


def test_send_refused_is_a_status_message(portal):
    item = news(portal)  # private
    browser = open_item(item)
    assert "Send update" not in browser.contents  # no button on a private item ...
    browser.open(item.absolute_url() + "/edit")  # ... so a token from another form
    token = authenticator(browser.contents)
    browser.post(
        f"{item.absolute_url()}/@@messenger-send",
        f"_authenticator={token}&action=again&confirmed=1",
    )
    assert browser.url == item.absolute_url()
    assert "Only published items can be sent." in browser.contents
    browser.open(
        f"{item.absolute_url()}/@@messenger-confirm?action=update"
    )  # the page says so too
    assert "Only published items can be sent." in browser.contents
    assert 'id="messenger-confirm-form"' not in browser.contents


def test_waiting_post_and_send_waiting_now(portal, plone_redis, monkeypatch):
    subscribe([1001, 1002])
    item = news(portal)
    with monkeypatch.context() as patch:
        patch.setenv("MESSENGER_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
        publish(item)
        browser = open_item(item)
        text = box_text(browser)
        assert (
            "Waiting for the delivery queue: will be sent as soon as it is reachable"
            in text
        )
        browser.getControl("Send waiting posts now").click()
        assert (
            "The delivery queue is still not reachable. Posts waiting: 1"
            in browser.contents
        )
    assert queued_titles(plone_redis) == []  # nothing reached Redis meanwhile
    browser.reload()
    browser.getControl("Send waiting posts now").click()
    assert "Waiting posts handed to the delivery queue: 1." in browser.contents
    assert "Waiting for the delivery queue" not in box_text(browser)
    assert "Send waiting posts now" not in browser.contents
    assert len(queued_titles(plone_redis)) == 1


def test_send_view_refuses_get_bad_action_and_missing_token(portal):
    item = news(portal)
    publish(item)
    browser = open_item(item)
    token = token_for(item)
    browser.open(f"{item.absolute_url()}/@@messenger-send")
    assert browser.headers["status"].startswith("405")
    assert "Use the buttons in the Messenger box" in browser.contents
    browser.post(
        f"{item.absolute_url()}/@@messenger-send",
        f"_authenticator={token}&action=delete",
    )
    assert browser.headers["status"].startswith("400")
    assert browser.contents == "Unknown action."
    browser.post(f"{item.absolute_url()}/@@messenger-send", "action=update")
    assert browser.headers["status"].startswith("403")


@pytest.mark.parametrize("user", [None, "member"])
def test_no_box_and_no_sending_for_others(portal, plone_redis, user):
    subscribe([1001])
    item = news(portal)
    publish(item)
    token = token_for(item)
    browser = open_item(item, user)
    assert "Vollsperrung" in browser.contents  # they see the item ...
    assert status_box(browser.contents) is None  # ... but not the box
    before = len(queued_titles(plone_redis))
    browser.post(
        f"{item.absolute_url()}/@@messenger-send",
        f"_authenticator={token}&action=again",
    )
    assert len(queued_titles(plone_redis)) == before
    browser.open(f"{item.absolute_url()}/@@messenger-preview")
    assert 'id="messenger-preview"' not in browser.contents


def test_reviewer_sees_status_but_cannot_send(portal):
    item = news(portal)
    publish(item)
    browser = open_item(item, "reviewer")
    assert "First post" in box_text(browser)
    assert not status_box(browser.contents).xpath('.//form[@id="messenger-send-form"]')


def test_box_only_on_the_items_view(portal):
    item = news(portal)
    browser = open_item(item)
    assert status_box(browser.contents) is not None
    browser.open(item.absolute_url() + "/edit")
    assert status_box(browser.contents) is None


def test_scheduled_by_effective_date(portal):
    subscribe([1001])
    item = news(portal, effective_date=DateTime() + 1)  # tomorrow
    assert "When this item is published, it goes out on" in box_text(open_item(item))
    publish(item)
    [article] = post_articles(open_item(item))
    assert article.xpath('.//span[@data-state="scheduled"]/text()') == ["Scheduled"]
    assert article.xpath('.//span[@class="messenger-due"]//time/@datetime')

    api.content.transition(obj=item, transition="retract")
    transaction.commit()
    [article] = post_articles(open_item(item))
    assert article.xpath('.//span[@data-state="cancelled"]/text()') == ["Cancelled"]
    assert "The item was retracted before its time." in text_of(article)
    assert not article.xpath(
        './/*[@role="progressbar"]'
    )  # nothing went out: no figures


def test_send_now_when_publishing_sent_nothing(portal, plone_redis):
    subscribe([1001])
    item = news(portal, send=False)
    publish(item)
    browser = open_item(item)
    assert not post_articles(browser)
    page = confirm(browser, "messenger-send-first")
    assert text_of(page.xpath("//h1")[0]) == "Send now"
    browser.getControl("Send to 1 subscribers now").click()
    [article] = post_articles(browser)
    assert "Sent again" in text_of(article)
    assert len(queued_titles(plone_redis)) == 1


def scheduled_item(portal):
    item = news(portal, effective_date=DateTime() + 1)  # tomorrow
    publish(item)
    return item


def test_scheduled_post_offers_send_now_and_cancel_sending(
    portal, plone_redis, sandbox
):
    from messenger_worker.fanout import scheduled_batches

    subscribe([1001, 1002])
    item = scheduled_item(portal)
    browser = open_item(item)
    box = status_box(browser.contents)
    buttons = [
        text_of(a)
        for a in box.xpath(
            './/div[contains(@class, "messenger-actions")]//a[contains(@class, "btn")]'
        )
    ]
    assert buttons == [
        "Preview the message",
        "Send now",
        "Cancel sending",
    ]  # no update, no again

    page = confirm(browser, "messenger-send-now")
    assert "is scheduled for" in text_of(page.xpath('//p[@class="lead"]')[0])
    assert confirmation_counts(page) == {"telegram": 2}
    [entry] = entries_of(item)
    assert scheduled_batches(plone_redis, entry.post_id)  # still waits for tomorrow
    browser.getControl("Send to 2 subscribers now").click()
    assert "Messenger: sending to 2 subscribers." in browser.contents
    [entry] = entries_of(item)
    assert not scheduled_batches(plone_redis, entry.post_id)
    run_worker(plone_redis)
    assert len(sandbox.messages(channel="telegram")) == 2
    [article] = post_articles(open_item(item))
    assert article.xpath('.//span[@data-state="done"]/text()') == ["Sent"]
    assert open_item(item).getLink(
        id="messenger-send-update"
    )  # gone out: an update is possible again


def test_cancel_sending_takes_the_scheduled_post_back(portal, plone_redis, sandbox):
    from messenger_worker.fanout import scheduled_batches

    subscribe([1001])
    item = scheduled_item(portal)
    browser = open_item(item)
    page = confirm(browser, "messenger-cancel-sending")
    assert "will not be sent" in text_of(page.xpath('//p[@class="lead"]')[0])
    assert not page.xpath('//*[@id="messenger-confirm-preview-cards"]')
    browser.getControl("Cancel sending").click()
    assert (
        "Sending was cancelled: the scheduled messenger post will not go out."
        in browser.contents
    )
    [entry] = entries_of(item)
    assert entry.state == "cancelled" and entry.reason == "editor"
    assert not scheduled_batches(plone_redis, entry.post_id)
    [article] = post_articles(browser)
    assert "An editor cancelled sending." in text_of(article)
    assert browser.getLink(id="messenger-send-again")  # the item can be sent later
    run_worker(plone_redis)
    assert sandbox.messages(channel="telegram") == []
    # A second cancel (another tab) has nothing left to cancel and says so.
    browser.post(
        f"{item.absolute_url()}/@@messenger-send",
        f"_authenticator={token_for(item)}&action=cancel&confirmed=1",
    )
    assert (
        "No messenger post of this item is waiting for its time any more."
        in browser.contents
    )


def test_whatsapp_receipts_counted(portal, plone_redis, sandbox):
    from collective.messenger.demo.sandbox import use_sandbox
    from messenger_worker.statuses import record_status

    use_sandbox(sandbox.url, channels=("whatsapp",), site=portal)
    transaction.commit()
    # A text-only template: the sandbox's default one wants an image, and this post has none.
    template = sandbox.channel_settings("whatsapp")["template_name"]
    sandbox.configure(whatsapp={"templates": {template: {"header": None}}})
    subscribe([1001])
    subscribe(["4915112345678", "4915112345679"], channel="whatsapp")
    item = news(portal)
    publish(item)
    run_worker(plone_redis)
    first, second = (m["message_id"] for m in sandbox.messages(channel="whatsapp"))
    # What Plone's WhatsApp webhook does with Meta's status receipts.
    record_status(plone_redis, first, "delivered")
    record_status(plone_redis, second, "read")

    [article] = post_articles(open_item(item))
    assert channel_row(article, "whatsapp") == {
        "queued": 2,
        "sent": 2,
        "retrying": 0,
        "gone": 0,
        "failed": 0,
        "delivered": 2,
        "read": 1,  # no "failed after sending" row: none failed
    }
    telegram = article.xpath(
        './/td[@data-channel="telegram"][@data-counter="read"]/text()'
    )
    assert telegram == ["–"]  # Telegram sends no receipts


def test_confirmation_in_german(portal, plone_redis):
    subscribe([1001])
    item = scheduled_item(portal)
    api.portal.set_registry_record("plone.available_languages", ["en", "de"])
    api.portal.set_registry_record("plone.use_request_negotiation", True)
    transaction.commit()
    browser = open_item(item)
    browser.addHeader("Accept-Language", "de-DE,de;q=0.9")
    browser.open(item.absolute_url())
    assert [
        text_of(a)
        for a in status_box(browser.contents).xpath('.//a[contains(@class, "btn")]')
    ] == ["Vorschau der Nachricht", "Jetzt senden", "Senden abbrechen"]
    page = confirm(browser, "messenger-send-now")
    text = text_of(page.xpath('//*[@id="messenger-confirm"]')[0])
    assert "Geplante Nachricht jetzt senden" in text
    assert "ist für" in text and "geplant. Stattdessen jetzt senden?" in text
    assert re.search(
        r"\d\d\.\d\d\.20\d\d \d\d:\d\d", text
    )  # the scheduled time, German style
    assert "Empfängerinnen und Empfänger: 1" in text
    assert "Jetzt an 1 Abonnentinnen und Abonnenten senden" in text
    assert "Zurück zum Beitrag, nichts wird gesendet" in text
    page = confirm(open_german(item), "messenger-cancel-sending")
    text = text_of(page.xpath('//*[@id="messenger-confirm"]')[0])
    assert "Keine Nachricht an diese 1 Abonnentinnen und Abonnenten" in text
    assert "Zurück zum Beitrag, die Nachricht bleibt geplant" in text


def open_german(item):
    browser = open_item(item)
    browser.addHeader("Accept-Language", "de-DE,de;q=0.9")
    browser.open(item.absolute_url())
    return browser


def test_scheduled_message_in_the_sites_time_zone(portal, plone_redis):
    """ "Messenger: scheduled for ..." after publishing says the time as the site shows it."""
    from datetime import datetime
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    api.portal.set_registry_record("plone.portal_timezone", "Europe/Berlin")
    subscribe([1001])
    tomorrow = datetime.now(ZoneInfo("Europe/Berlin")).replace(
        hour=9, minute=30, second=0, microsecond=0
    ) + timedelta(days=1)
    item = news(portal, effective_date=DateTime(tomorrow.isoformat()))
    browser = open_item(item, "manager")
    browser.open(
        f"{item.absolute_url()}/content_status_modify?workflow_action=publish"
        f"&_authenticator={token_for(item, 'manager')}"
    )
    message = text_of(
        lxml.html.fromstring(browser.contents).xpath('//*[@id="global_statusmessage"]')[
            0
        ]
    )
    assert "Messenger: scheduled for" in message and "to 1 subscribers." in message
    assert (
        "09:30 AM" in message and "UTC" not in message
    )  # Musterstadt's morning, not 08:30 UTC
