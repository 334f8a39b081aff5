"""An editor publishes and watches the Messenger box count while a real worker sends to the
sandbox: the progress bar moves without a reload (the box polls @messenger-status)."""

import os
import signal

import transaction

from collective.messenger.settings.access import MessengerSettings
from conftest import SCREENSHOTS
from conftest import WorkerProcess
from conftest import _wait_for_dead_workers_to_unblock
from messenger_worker.connection import REDIS_URL_VARIABLE
from status_support import news
from status_support import prepare
from status_support import subscribe
from test_browser_controlpanel import log_in

RECIPIENTS = 24
RATE = 4.0  # messages per second: the sending takes about 6 s, time to watch it


def progress(page):
    return int(page.locator("article.messenger-post [role=progressbar]").first.get_attribute("aria-valuenow"))


def test_editor_watches_a_post_go_out(page, live_site, acceptance, sandbox, plone_redis):
    portal = prepare(acceptance["portal"], sandbox, channels=("telegram",))
    MessengerSettings(portal).telegram_rate = RATE
    transaction.commit()
    subscribe(range(5001, 5001 + RECIPIENTS))
    item = news(portal)
    worker = WorkerProcess(os.environ[REDIS_URL_VARIABLE])
    try:
        log_in(page, live_site, "editor")
        page.goto(f"{live_site}/{item.getId()}")
        box = page.locator("#messenger-status")
        assert f"it goes to {RECIPIENTS} subscribers" in box.inner_text()
        page.screenshot(path=f"{SCREENSHOTS}/status-before-publishing.png", full_page=True)

        page.locator("#plone-contentmenu-workflow").get_by_text("State:").click()
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
        assert box.locator("tr[data-channel=telegram] [data-counter=sent]").inner_text() == str(RECIPIENTS)
        assert box.locator(".messenger-state").inner_text() == "Sent"
        assert box.locator("tr[data-channel=telegram] time[data-time=last_sent]").inner_text() != ""
        page.screenshot(path=f"{SCREENSHOTS}/status-sent-360.png", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=f"{SCREENSHOTS}/status-sent-1280.png", full_page=True)
        assert len(sandbox.messages(channel="telegram")) == RECIPIENTS

        page.locator("#messenger-preview-link").click()
        page.wait_for_selector("#messenger-preview-telegram")
        page.screenshot(path=f"{SCREENSHOTS}/status-preview.png", full_page=True)
    finally:
        worker.signal_group(signal.SIGKILL)
        worker.process.wait(timeout=30)
        _wait_for_dead_workers_to_unblock(plone_redis)
