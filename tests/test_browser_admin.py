"""A Site Administrator reads the subscriber overview and looks one person up, in a real browser."""

from conftest import SCREENSHOTS
from test_admin_view import populate
from test_admin_view import SIGNAL_ACTIVE
from test_browser_controlpanel import log_in


def test_overview_and_lookup(page, live_site, acceptance):
    ids = populate(acceptance["portal"])
    log_in(page, live_site, "siteadmin")
    page.goto(f"{live_site}/@@messenger-subscribers")
    assert page.locator("h1").inner_text() == "Messenger subscribers"
    chart = page.get_by_role("img", name="Signups and leavers per day, last 30 days")
    assert chart.is_visible()
    page.screenshot(path=f"{SCREENSHOTS}/admin-subscribers.png", full_page=True)
    assert chart.bounding_box()["width"] > 600
    assert page.locator("#messenger-total-active dd").inner_text() == "2"
    page.screenshot(path=f"{SCREENSHOTS}/admin-subscribers.png", full_page=True)

    page.get_by_label("Messenger", exact=True).select_option("signal")
    page.get_by_label("Address").fill("0151 12345678")
    page.get_by_role("button", name="Find subscriber").click()
    result = page.locator(".messenger-subscriber")
    assert result.locator(".messenger-address").inner_text() == SIGNAL_ACTIVE
    assert ids["signal"] in result.locator("h3").inner_text()
    page.screenshot(path=f"{SCREENSHOTS}/admin-subscriber-data.png", full_page=True)
