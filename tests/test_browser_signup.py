"""A citizen subscribes through the signup portlet with Telegram, in a real browser, by keyboard.

The whole path with real parts: the portlet on the live site, the sandbox's simulated
citizen tapping Start (a signed ``/start <token>`` webhook to the site), a worker sending
the welcome message to the sandbox phone.
"""

import re

import transaction
from conftest import SCREENSHOTS
from conftest import wait_until
from plone import api
from test_portlet import right_column
from test_signup_page import enable_channels

from collective.messenger.browser.portlet import Assignment
from collective.messenger.subscribers import get_store

CHAT_ID = "5550001"
PORTLET = "section.portlet-messenger-signup"


def prepare_site(portal, sandbox, live_site):
    enable_channels(portal, "telegram", "signal", base_url=sandbox.url)
    right_column(portal)["messenger-signup"] = Assignment(
        header="Stay informed", topics=["warnungen"]
    )
    # German browsers get German pages (the coordinator fills the German catalog).
    api.portal.set_registry_record("plone.available_languages", ["en", "de"])
    api.portal.set_registry_record("plone.use_request_negotiation", True)
    transaction.commit()
    sandbox.configure(
        telegram={"webhook_url": f"{live_site}/@messenger-webhook/telegram"}
    )


def new_page(chromium, width, locale="en-US"):
    context = chromium.new_context(
        viewport={"width": width, "height": 800}, locale=locale
    )
    page = context.new_page()
    page.set_default_timeout(20000)
    return page


def tab_to(page, selector, presses=80):
    """Press Tab until ``selector`` has the focus, as a keyboard user does; returns the element."""
    target = page.locator(selector)
    for _press in range(presses):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            # The focus must be visible: our 3 px outline (or Bootstrap's focus ring).
            style = target.evaluate(
                "e => { const s = getComputedStyle(e); return [s.outlineStyle, s.outlineWidth, s.boxShadow]; }"
            )
            assert (style[0] != "none" and style[1] != "0px") or style[2] != "none", (
                selector,
                style,
            )
            return target
    raise AssertionError(f"Tab never reached {selector}")


def test_citizen_subscribes_with_telegram_by_keyboard(
    chromium, live_site, acceptance, sandbox, plone_worker
):
    portal = acceptance["portal"]
    prepare_site(portal, sandbox, live_site)
    page = new_page(chromium, 360)
    page.goto(live_site)
    portlet = page.locator(PORTLET)
    portlet.scroll_into_view_if_needed()
    assert portlet.locator("h2").inner_text() == "Stay informed"
    assert (
        page.evaluate("document.documentElement.scrollWidth") <= 360
    )  # no sideways scrolling
    phone = portlet.locator(".messenger-phone")
    assert not phone.is_visible()  # JavaScript hides it until Signal is chosen
    page.screenshot(path=f"{SCREENSHOTS}/signup-portlet-360.png", full_page=True)

    # Keyboard only: tick a second topic, choose the messenger, agree, send.
    tab_to(page, f"{PORTLET} input[value=baustellen-verkehr]")
    page.keyboard.press("Space")
    tab_to(page, f"{PORTLET} input[name=channel][value=telegram]")
    page.keyboard.press("Space")
    page.keyboard.press(
        "ArrowDown"
    )  # the next messenger, Signal, needs the phone number
    assert portlet.locator("input[value=signal]").is_checked() and phone.is_visible()
    page.keyboard.press("ArrowUp")
    assert (
        portlet.locator("input[value=telegram]").is_checked() and not phone.is_visible()
    )
    tab_to(page, f"{PORTLET} input[name=consent]")
    page.keyboard.press("Space")
    tab_to(page, f"{PORTLET} button[type=submit]")
    page.keyboard.press("Enter")

    button = page.locator("#messenger-open-link")
    button.wait_for()
    assert button.inner_text().strip() == "Open Telegram"
    qr = page.get_by_role("img", name=re.compile("QR code"))
    assert qr.is_visible()
    box = qr.bounding_box()
    assert 150 <= box["width"] <= 360 and abs(box["width"] - box["height"]) < 2
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=f"{SCREENSHOTS}/signup-telegram-360.png", full_page=True)
    link = button.get_attribute("href")
    token = re.fullmatch(
        r"https://t\.me/musterstadt_bot\?start=([A-Za-z0-9_-]{1,64})", link
    ).group(1)

    # The citizen taps Start in Telegram: the sandbox posts the signed /start to the site.
    answer = sandbox.citizen("telegram", CHAT_ID, text=f"/start {token}", name="Erika")
    assert answer["webhook"]["status"] == 200, answer["webhook"]
    transaction.begin()
    subscriber = get_store(portal).by_address("telegram", CHAT_ID)
    assert subscriber.state == "active"
    assert subscriber.topics == ("baustellen-verkehr", "warnungen")
    assert subscriber.consent.path == "portlet"

    plone_worker()
    welcome = wait_until(
        lambda: sandbox.messages(channel="telegram", recipient=CHAT_ID),
        timeout=30,
        message="the welcome message on the sandbox phone",
    )[0]["text"]
    assert (
        "Welcome" in welcome
        and "Baustellen & Verkehr" in welcome
        and "Warnungen" in welcome
    )
    assert "/stop" in welcome
    manage_link = re.search(r"https?://\S+/@@messenger-manage/\S+", welcome).group(0)

    # The link in the welcome message opens the manage page.
    page.goto(manage_link)
    assert page.locator("h1").inner_text() == "Your subscription"
    assert page.locator("#messenger-manage-form input[value=warnungen]").is_checked()
    assert page.locator(PORTLET).count() == 0  # the portlet stays off the manage page
    page.screenshot(path=f"{SCREENSHOTS}/manage-360.png", full_page=True)
    page.context.close()


def test_layout_in_english_and_german(chromium, live_site, acceptance, sandbox):
    """Screenshots for people to look at; the checks catch what a layout bug would break."""
    prepare_site(acceptance["portal"], sandbox, live_site)
    runs = [
        (locale, language, width)
        for locale, language in (("en-US", "en"), ("de-DE", "de"))
        for width in (360, 1280)
    ]
    for run, (locale, language, width) in enumerate(runs):
        page = new_page(chromium, width, locale)
        page.goto(live_site)
        portlet = page.locator(PORTLET)
        assert portlet.bounding_box()["x"] + portlet.bounding_box()["width"] <= width
        page.screenshot(
            path=f"{SCREENSHOTS}/signup-portlet-{language}-{width}.png", full_page=True
        )

        page.goto(f"{live_site}/@@messenger-signup?topics=veranstaltungen")
        assert page.locator("html").get_attribute("lang") == language
        form = page.locator("#messenger-signup-form")
        assert form.locator("input[value=veranstaltungen]").is_checked()
        assert page.locator(PORTLET).count() == 0  # no second form on the signup page
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(
            path=f"{SCREENSHOTS}/signup-page-{language}-{width}.png", full_page=True
        )

        # Sent empty: the summary at the top takes the focus and links to each field.
        form.locator("button[type=submit]").click()
        summary = page.locator("#messenger-signup-errors")
        summary.wait_for()
        assert summary.evaluate("element => element === document.activeElement")
        assert (
            summary.locator("a").count() == 2
        )  # channel, consent (a topic was ticked)
        page.screenshot(
            path=f"{SCREENSHOTS}/signup-errors-{language}-{width}.png", full_page=True
        )

        # Signal: the code step.
        form = page.locator("#messenger-signup-form")
        form.locator("input[value=signal]").check()
        form.locator("input[name=phone]").fill(f"0151 2345678{run}")
        form.locator("input[name=consent]").check()
        form.locator("button[type=submit]").click()
        page.locator("#messenger-code").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(
            path=f"{SCREENSHOTS}/signup-code-{language}-{width}.png", full_page=True
        )
        page.context.close()


def test_another_sites_form_cannot_start_a_signup(
    chromium, live_site, acceptance, sandbox
):
    """A page on another site posts the signup form with a token copied from ours (the page is
    public, so anyone can read it): the browser says cross-site, the site refuses, stores
    nothing and sends no code."""
    portal = acceptance["portal"]
    prepare_site(portal, sandbox, live_site)
    page = new_page(chromium, 1280)
    page.goto(f"{live_site}/@@messenger-signup")
    token = page.locator("#messenger-signup-form input[name=form_token]").get_attribute(
        "value"
    )
    fields = {
        "step": "signup",
        "path": "page",
        "topics": "warnungen",
        "channel": "signal",
        "phone": "+4915123456799",
        "consent": "1",
        "form_token": token,
    }
    inputs = "".join(
        f'<input type="hidden" name="{name}" value="{value}">'
        for name, value in fields.items()
    )
    attacker = (
        f'<html><body><form id="forged" method="post" action="{live_site}/@@messenger-signup">'
        f'{inputs}</form><script>document.getElementById("forged").submit()</script></body></html>'
    )
    page.route(
        "http://attacker.example/**",
        lambda route: route.fulfill(
            status=200, content_type="text/html", body=attacker
        ),
    )
    page.goto("http://attacker.example/")
    page.wait_for_url(f"{live_site}/@@messenger-signup")
    alert = page.locator(".messenger-errors")
    alert.wait_for()
    assert (
        "This signup came from another website and was not processed."
        in alert.inner_text()
    )
    assert page.locator(
        "#messenger-signup-form"
    ).is_visible()  # our own form, to sign up for real
    assert page.locator("#messenger-signup-form input[name=phone]").input_value() == ""
    page.screenshot(
        path=f"{SCREENSHOTS}/signup-cross-site-refused-1280.png", full_page=True
    )
    transaction.begin()
    assert get_store(portal).counts()["states"].get("pending", 0) == 0
    assert sandbox.messages(channel="signal") == []
    page.context.close()
