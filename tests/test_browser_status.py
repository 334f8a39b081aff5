"""An admin publishes and watches the Messenger box count while a real worker sends to the
sandbox: the progress bar moves without a reload (the box polls @messenger-status)."""

import os
import signal

import transaction

from collective.messenger.settings.access import MessengerSettings
from conftest import SCREENSHOTS
from conftest import WorkerProcess
from conftest import _wait_for_dead_workers_to_unblock
from messenger_worker.connection import REDIS_URL_VARIABLE
from messenger_worker.settings import CHANNELS
from messenger_worker.pauses import ChannelPauses
from status_support import failing_batch
from status_support import news
from status_support import prepare
from status_support import subscribe
from test_browser_controlpanel import log_in

RECIPIENTS = 24
RATE = 4.0  # messages per second: the sending takes about 6 s, time to watch it


def progress(page):
    return int(page.locator("article.messenger-post [role=progressbar]").first.get_attribute("aria-valuenow"))


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
        page.screenshot(path=f"{SCREENSHOTS}/status-before-publishing.png", full_page=True)

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
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways page

        # The box counts on by itself, to the end: no reload in between.
        before = progress(page)
        page.wait_for_function(
            "() => document.querySelector('.messenger-state').getAttribute('data-state') === 'done'",
            timeout=30000,
        )
        assert page.url == loaded_url
        assert before < progress(page) == 100
        assert box.locator("td[data-channel=telegram][data-counter=sent]").inner_text() == str(RECIPIENTS)
        assert box.locator(".messenger-state").inner_text() == "Sent"
        assert box.locator("time[data-channel=telegram][data-time=last_sent]").inner_text() != ""
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
        ChannelPauses(plone_redis).pause("threema", "Threema says there are no credits left (402).")
        page.goto(f"{live_site}/@@messenger-controlpanel")
        page.locator("#messenger-dashboard-link").click()
        row = page.locator("#messenger-posts-table tbody tr").first
        assert "Sent" in row.inner_text() and row.locator("progress").get_attribute("value") == "100"
        assert "no credits left" in page.locator("#messenger-dashboard-paused").inner_text()
        for _attempt in range(20):  # the worker fails the batch within a moment
            if page.locator("tr[data-job-id]").count():
                break
            page.wait_for_timeout(250)
            page.reload()
        assert "is not in Redis (expired?)" in page.locator("tr[data-job-id]").inner_text()
        page.screenshot(path=f"{SCREENSHOTS}/dashboard.png", full_page=True)
        page.set_viewport_size({"width": 360, "height": 780})
        page.screenshot(path=f"{SCREENSHOTS}/dashboard-360.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360  # wide tables scroll inside
        page.locator("tr[data-job-id] button", has_text="Retry").click()
        assert "The job msg-expired-post-telegram-0 is back on its queue." in page.content()
    finally:
        worker.signal_group(signal.SIGKILL)
        worker.process.wait(timeout=30)
        _wait_for_dead_workers_to_unblock(plone_redis)
