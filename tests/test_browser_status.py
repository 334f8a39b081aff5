"""An admin publishes and watches the Messenger box count while a real worker sends to the
sandbox: the progress bar moves without a reload (the box polls @messenger-status)."""

import os
import signal

import transaction
from conftest import _wait_for_dead_workers_to_unblock
from conftest import SCREENSHOTS
from conftest import WorkerProcess
from DateTime import DateTime
from status_support import failing_batch
from status_support import news
from status_support import prepare
from status_support import subscribe
from test_browser_controlpanel import log_in

from collective.messenger.settings.access import MessengerSettings
from messenger_worker.connection import REDIS_URL_VARIABLE
from messenger_worker.pauses import ChannelPauses
from messenger_worker.settings import CHANNELS

RECIPIENTS = 24
RATE = 4.0  # messages per second: the sending takes about 6 s, time to watch it


def progress(page):
    return int(
        page.locator("article.messenger-post [role=progressbar]").first.get_attribute(
            "aria-valuenow"
        )
    )


def test_admin_watches_a_post_go_out(page, live_site, acceptance, sandbox, plone_redis):
    portal = prepare(acceptance["portal"], sandbox, channels=CHANNELS)
    MessengerSettings(portal).telegram_rate = RATE
    transaction.commit()
    subscribe(range(5001, 5001 + RECIPIENTS))
    item = news(portal)
    worker = WorkerProcess(os.environ[REDIS_URL_VARIABLE])
    try:
        log_in(page, live_site, "siteadmin")  # editors may not publish in this workflow
        page.goto(f"{live_site}/{item.getId()}")
        box = page.locator("#messenger-status")
        assert f"it goes to {RECIPIENTS} subscribers" in box.inner_text()
        page.screenshot(
            path=f"{SCREENSHOTS}/status-before-publishing.png", full_page=True
        )

        page.get_by_role("link", name="State: Private").click()
        page.locator("#workflow-transition-publish").click()
        page.wait_for_selector("article.messenger-post")
        page.wait_for_function(
            "() => { const bar = document.querySelector('article.messenger-post [role=progressbar]');"
            " const value = +bar.getAttribute('aria-valuenow'); return value > 0 && value < 100; }",
            timeout=30000,
        )
        loaded_url = page.url
        page.screenshot(path=f"{SCREENSHOTS}/status-sending-1280.png", full_page=True)
        page.set_viewport_size({"width": 360, "height": 780})
        box.scroll_into_view_if_needed()
        page.screenshot(path=f"{SCREENSHOTS}/status-sending-360.png", full_page=True)
        assert (
            page.evaluate("document.documentElement.scrollWidth") <= 360
        )  # no sideways page

        # The box counts on by itself, to the end: no reload in between.
        before = progress(page)
        page.wait_for_function(
            "() => document.querySelector('.messenger-state').getAttribute('data-state') === 'done'",
            timeout=30000,
        )
        assert page.url == loaded_url
        assert before < progress(page) == 100
        assert box.locator(
            "td[data-channel=telegram][data-counter=sent]"
        ).inner_text() == str(RECIPIENTS)
        assert box.locator(".messenger-state").inner_text() == "Sent"
        assert (
            box.locator("time[data-channel=telegram][data-time=last_sent]").inner_text()
            != ""
        )
        page.wait_for_timeout(800)  # Bootstrap animates the bar's width
        page.screenshot(path=f"{SCREENSHOTS}/status-sent-360.png", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=f"{SCREENSHOTS}/status-sent-1280.png", full_page=True)
        assert len(sandbox.messages(channel="telegram")) == RECIPIENTS

        page.locator("#messenger-preview-link").click()
        page.wait_for_selector("#messenger-preview-threema")
        page.screenshot(path=f"{SCREENSHOTS}/status-preview.png", full_page=True)

        # A batch whose snapshot expired fails in the real worker; the admin retries it.
        failing_batch(plone_redis, "expired-post")
        ChannelPauses(plone_redis).pause(
            "threema", "Threema says there are no credits left (402)."
        )
        page.goto(f"{live_site}/@@messenger-controlpanel")
        page.locator("#messenger-dashboard-link").click()
        row = page.locator("#messenger-posts-table tbody tr").first
        assert (
            "Sent" in row.inner_text()
            and row.locator("progress").get_attribute("value") == "100"
        )
        assert (
            "no credits left"
            in page.locator("#messenger-dashboard-paused").inner_text()
        )
        for _attempt in range(20):  # the worker fails the batch within a moment
            if page.locator("tr[data-job-id]").count():
                break
            page.wait_for_timeout(250)
            page.reload()
        assert (
            "is not in Redis (expired?)" in page.locator("tr[data-job-id]").inner_text()
        )
        page.screenshot(path=f"{SCREENSHOTS}/dashboard.png", full_page=True)
        page.set_viewport_size({"width": 360, "height": 780})
        page.screenshot(path=f"{SCREENSHOTS}/dashboard-360.png", full_page=True)
        assert (
            page.evaluate("document.documentElement.scrollWidth") <= 360
        )  # wide tables scroll inside
        page.locator("tr[data-job-id] button", has_text="Retry").click()
        assert (
            "The job msg-expired-post-telegram-0 is back on its queue."
            in page.content()
        )
    finally:
        worker.signal_group(signal.SIGKILL)
        worker.process.wait(timeout=30)
        _wait_for_dead_workers_to_unblock(plone_redis)


def test_editor_confirms_before_anything_is_sent(
    chromium, live_site, acceptance, sandbox, plone_redis
):
    """Point 23, clicked through: "Send again" and "Send update" only open a confirmation with
    the recipients and the preview; the form there sends. Without JavaScript, as it must work."""
    from status_support import publish
    from test_status_viewlet import entries_of

    portal = prepare(acceptance["portal"], sandbox, channels=("telegram", "signal"))
    subscribe([6001, 6002, 6003])
    subscribe(["+4915112345671"], channel="signal")
    item = news(portal)
    publish(item)
    context = chromium.new_context(
        viewport={"width": 1280, "height": 900},
        locale="en-US",
        java_script_enabled=False,
    )
    page = context.new_page()
    page.set_default_timeout(20000)
    try:
        log_in(page, live_site, "editor")
        item_url = f"{live_site}/{item.getId()}"
        page.goto(item_url)
        page.locator("#messenger-send-again").click()
        assert page.url == f"{item_url}/@@messenger-confirm?action=again"
        recipients = page.locator("#messenger-confirm-recipients")
        assert "Recipients: 4" in recipients.inner_text()
        assert (
            recipients.locator("li[data-channel=telegram]").inner_text()
            == "Telegram: 3"
        )
        assert recipients.locator("li[data-channel=signal]").inner_text() == "Signal: 1"
        assert (
            "Vollsperrung der Hauptstraße"
            in page.locator("#messenger-preview-telegram").inner_text()
        )
        shots(page, "confirm-send-again")
        page.locator(
            "#messenger-confirm-back"
        ).click()  # a curious click: nothing happened
        assert page.url == item_url
        assert len(entries_of(item)) == 1

        page.locator("#messenger-send-update").click()
        assert (
            page.locator("#messenger-confirm-send").count() == 0
        )  # first: what is new?
        page.fill("#messenger-lead", "Die Sperrung dauert bis Freitag.")
        page.locator("#messenger-confirm-preview").click()
        telegram = page.locator("#messenger-preview-telegram").inner_text()
        assert "Update: Vollsperrung der Hauptstraße" in telegram
        assert "Die Sperrung dauert bis Freitag." in telegram
        assert (
            page.locator("#messenger-lead").input_value()
            == "Die Sperrung dauert bis Freitag."
        )
        shots(page, "confirm-send-update")
        assert len(entries_of(item)) == 1  # showing the preview sent nothing either
        page.get_by_role("button", name="Send the update to 4 subscribers").click()
        assert page.url == item_url
        assert (
            "Messenger: sending to 4 subscribers."
            in page.locator("#global_statusmessage").inner_text()
        )
        update = entries_of(item)[-1]
        assert update.kind == "update" and dict(update.recipients) == {
            "signal": 1,
            "telegram": 3,
        }
        assert update.post["teaser"].startswith("Die Sperrung dauert bis Freitag.\n\n")

        # A post that waits for its effective date: Send now or Cancel sending, nothing else.
        later = news(portal, title="Sperrung der Brücke", effective_date=DateTime() + 1)
        publish(later)
        page.goto(f"{live_site}/{later.getId()}")
        actions = page.locator(".messenger-actions")
        assert (
            actions.locator("#messenger-send-update, #messenger-send-again").count()
            == 0
        )
        actions.locator("#messenger-cancel-sending").click()
        shots(page, "confirm-cancel-sending")
        page.get_by_role("button", name="Cancel sending").click()
        assert (
            "Sending was cancelled"
            in page.locator("#global_statusmessage").inner_text()
        )
        assert (
            page.locator("article.messenger-post .messenger-state").inner_text()
            == "Cancelled"
        )
    finally:
        context.close()


def shots(page, name):
    """The page at 1280 px and at 360 px (a phone), which must not scroll sideways."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=f"{SCREENSHOTS}/{name}-1280.png", full_page=True)
    page.set_viewport_size({"width": 360, "height": 780})
    page.screenshot(path=f"{SCREENSHOTS}/{name}-360.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.set_viewport_size({"width": 1280, "height": 900})
