"""The README's walk-through, end to end, on the stack ``make run`` starts (free ports here).

A newcomer subscribes through the portlet with Telegram, taps Start on the sandbox phone and
gets the welcome message; the admin writes a Construction Notice with a lead image and
publishes it; it arrives on the phones with title, dates, place, link and the image
(Telegram as a photo, WhatsApp in the template's image header, Signal as an attachment),
and the item's status counts it as sent; a news item without an image reaches WhatsApp as
the template without header. The screenshots go to docs/walkthrough/, where the README shows
them.
"""

import base64
import os
import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from collective.messenger.demo.run import ADMIN
from collective.messenger.demo.run import start_stack
from messenger_sandbox.process import SandboxProcess
from messenger_worker.testing import free_port

DOCS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "docs", "walkthrough")
CHAT = "4242"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = start_stack(
        tmp_path_factory.mktemp("walkthrough"),
        http_port=free_port(),
        redis_port=free_port(),
        sandbox_port=free_port(),
    )
    yield stack
    stack.stop()


def shot(page, name):
    os.makedirs(DOCS, exist_ok=True)
    page.screenshot(path=os.path.join(DOCS, f"{name}.png"), full_page=True)


def phone_texts(sandbox):
    return [m["text"] for m in sandbox.messages(channel="telegram", recipient=CHAT)]


def lead_image(path):
    """A small PNG, as an editor would upload it: a closed road in the town's colours."""
    from PIL import Image
    from PIL import ImageDraw

    image = Image.new("RGB", (800, 450), (246, 246, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 300, 800, 450), fill=(90, 90, 90))  # the road
    for x in range(40, 800, 160):  # the barrier: red and white
        draw.rectangle((x, 250, x + 80, 290), fill=(200, 30, 30))
        draw.rectangle((x + 80, 250, x + 160, 290), fill=(255, 255, 255))
    draw.polygon(
        ((400, 40), (520, 220), (280, 220)), fill=(230, 170, 0), outline=(40, 40, 40)
    )
    image.save(path, "PNG")
    return str(path)


def wait_for_post(sandbox, channel, title, timeout=60):
    """The post titled ``title`` as ``channel``'s phone received it."""
    deadline = time.monotonic() + timeout
    while True:
        found = [
            m
            for m in sandbox.messages(channel=channel)
            if title in (m.get("text") or "")
        ]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, (
            f"no post on the {channel} phone: {sandbox.messages(channel=channel)}"
        )
        time.sleep(0.3)


def wait_for_phone(sandbox, predicate, timeout=60, what="message"):
    deadline = time.monotonic() + timeout
    while True:
        texts = phone_texts(sandbox)
        found = [t for t in texts if predicate(t)]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, f"no {what} on the phone; it shows {texts}"
        time.sleep(0.3)


@pytest.mark.timeout(600)
def test_newcomer_subscribes_and_receives_a_published_construction_notice(
    stack, chromium, tmp_path
):
    sandbox = SandboxProcess(port=stack.sandbox_port)

    # 1. A newcomer subscribes through the portlet (German site, German browser).
    citizen = chromium.new_context(
        viewport={"width": 1280, "height": 900}, locale="de-DE"
    )
    page = citizen.new_page()
    page.set_default_timeout(30000)
    page.goto(stack.site_url)
    portlet = (
        page
        .locator(".portlet-messenger-signup, .portlet")
        .filter(has_text="Nachrichten aufs Handy")
        .first
    )
    portlet.get_by_label("Baustellen & Verkehr").check()
    portlet.get_by_label("Telegram").check()
    portlet.locator("input[name='consent']").check()
    shot(page, "1-portlet")
    portlet.get_by_role("button", name="Abonnieren").click()
    button = page.get_by_role("link", name="Telegram öffnen")
    link = button.get_attribute("href")
    assert re.fullmatch(
        r"https://t\.me/musterstadt_bot\?start=[A-Za-z0-9_-]{1,64}", link
    )
    assert page.locator("svg.messenger-qr").count() == 1
    shot(page, "2-open-telegram")

    # 2. On the sandbox phone, the citizen taps Start; the welcome message arrives.
    page.goto(f"{stack.phones_url}phone/telegram/{CHAT}")
    page.get_by_placeholder("t.me-Link oder Token").fill(link)
    page.get_by_role("button", name="Start").click()
    welcome = wait_for_phone(
        sandbox, lambda t: "@@messenger-manage/" in t, what="welcome message"
    )
    assert "Baustellen & Verkehr" in welcome and "/stop" in welcome
    page.reload()
    shot(page, "3-welcome")

    # 3. The admin writes a Construction Notice with the topic and publishes it.
    # Sent up front: Plone answers a browser without credentials with its login form, not a 401.
    basic = base64.b64encode(":".join(ADMIN).encode()).decode()
    admin = chromium.new_context(
        viewport={"width": 1280, "height": 900},
        locale="de-DE",
        extra_http_headers={"Authorization": f"Basic {basic}"},
    )
    editor = admin.new_page()
    editor.set_default_timeout(30000)
    editor.goto(f"{stack.site_url}/++add++construction_notice")
    editor.fill("#form-widgets-IDublinCore-title", "Vollsperrung der Hauptstraße")
    editor.fill(
        "#form-widgets-IDublinCore-description",
        "Die Hauptstraße wird für Belagsarbeiten gesperrt.",
    )
    editor.fill("#form-widgets-location", "Hauptstraße zwischen Rathaus und Kirche")
    editor.fill("#form-widgets-start", "2026-12-07T07:00")
    editor.fill("#form-widgets-end", "2026-12-11T17:00")
    editor.check("#form-widgets-impact-0")  # full closure
    # The lead image: needs the instance's blob storage (without it: "Blobs are not supported").
    editor.set_input_files(
        "input[type=file][name='form.widgets.ILeadImageBehavior.image']",
        lead_image(tmp_path / "sperrung.png"),
    )
    editor.locator("#content-core .autotoc-nav a, form .autotoc-nav a").filter(
        has_text="Messenger"
    ).first.click()
    editor.check(
        "#form-widgets-IMessengerPush-messenger_topics-0"
    )  # Baustellen & Verkehr
    shot(editor, "4-messenger-tab")
    editor.click("button[name='form.buttons.save'], input[name='form.buttons.save']")
    editor.wait_for_url(re.compile(r".*/vollsperrung-der-hauptstrasse(/view)?$"))
    item_url = editor.url.removesuffix("/view")
    editor.goto(f"{item_url}/@@messenger-preview")
    shot(editor, "5-preview")
    editor.goto(item_url)
    editor.locator(
        "#plone-contentmenu-workflow > a, #plone-contentmenu-workflow button"
    ).first.click()
    editor.locator("#workflow-transition-publish").click()
    editor.wait_for_load_state()

    # 4. It arrives on the phones: title, dates, place, link and the lead image.
    post = wait_for_phone(
        sandbox,
        lambda t: "Vollsperrung der Hauptstraße" in t,
        what="construction notice",
    )
    assert "Hauptstraße zwischen Rathaus und Kirche" in post
    assert "07.12.2026" in post and "11.12.2026" in post
    assert item_url in post or "vollsperrung-der-hauptstrasse" in post
    image_url = f"{item_url}/@@images/image/large"
    telegram = wait_for_post(sandbox, "telegram", "Vollsperrung der Hauptstraße")
    assert (
        telegram["kind"] == "photo" and telegram["image"] == image_url
    )  # a photo with the text as caption
    whatsapp = wait_for_post(sandbox, "whatsapp", "Vollsperrung der Hauptstraße")
    assert (
        whatsapp["kind"] == "template" and whatsapp["image"] == image_url
    )  # the template's image header
    signal = wait_for_post(sandbox, "signal", "Vollsperrung der Hauptstraße")
    # The worker fetched the image from the site and sent it along as an attachment.
    assert signal["kind"] == "photo" and signal["attachments"] == 1
    assert signal["image"].startswith("data:image/")
    fetched = requests.get(
        image_url, timeout=30
    )  # what a citizen's messenger loads: public
    assert fetched.status_code == 200 and fetched.headers["Content-Type"].startswith(
        "image/"
    )
    page.set_viewport_size({
        "width": 1280,
        "height": 1500,
    })  # the whole chat: the phone page scrolls inside
    page.reload()
    page.locator("img").first.wait_for()
    shot(page, "6-phone")
    for channel, address in (
        ("whatsapp", whatsapp["recipient"]),
        ("signal", signal["recipient"]),
    ):
        page.goto(f"{stack.phones_url}phone/{channel}/{address}")
        shot(page, f"6-phone-{channel}")

    # 5. The item's status counts it as sent (the newcomer and the sample subscribers).
    deadline = time.monotonic() + 60
    while True:
        status = requests.get(
            f"{item_url}/@messenger-status",
            auth=ADMIN,
            headers={"Accept": "application/json"},
            timeout=30,
        ).json()
        [post_status] = status["posts"]
        if post_status["done"]:
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    telegram = post_status["channels"]["telegram"]
    assert (
        telegram["sent"] == 3 and telegram["failed"] == 0
    )  # 1001, 1003 and the newcomer
    assert post_status["channels"]["whatsapp"]["sent"] == 1
    assert post_status["channels"]["signal"]["sent"] == 1
    editor.reload()
    viewlet = editor.locator("#messenger-status, .messenger-status").first
    assert "3" in viewlet.inner_text()
    # Times in German and in Musterstadt's time zone (Europe/Berlin), not the server's UTC.
    created = viewlet.locator("time[data-time=created]").first
    berlin = datetime.fromisoformat(created.get_attribute("datetime")).astimezone(
        ZoneInfo("Europe/Berlin")
    )
    assert berlin.strftime("%d.%m.%Y") in created.inner_text()
    assert berlin.strftime("%H:%M") in created.inner_text()
    shot(editor, "7-status")

    # 6. An update goes through its confirmation: recipients per messenger, what is new, the preview.
    viewlet.locator("#messenger-send-update").click()
    editor.fill("#messenger-lead", "Die Sperrung beginnt schon um 6 Uhr.")
    editor.locator("#messenger-confirm-preview").click()
    recipients = editor.locator("#messenger-confirm-recipients").inner_text()
    assert (
        "Empfängerinnen und Empfänger: 5" in recipients and "WhatsApp: 1" in recipients
    )
    assert (
        "Die Sperrung beginnt schon um 6 Uhr."
        in editor.locator("#messenger-preview-telegram").inner_text()
    )
    shot(editor, "8-confirm-update")
    editor.locator("#messenger-confirm-send").click()
    update = wait_for_phone(
        sandbox, lambda t: "Die Sperrung beginnt schon um 6 Uhr." in t, what="update"
    )
    assert update.startswith("Baustelle: Aktualisierung: Vollsperrung der Hauptstraße")
    # What is new opens the text: after the notice's place and dates, before its teaser.
    assert update.index("Die Sperrung beginnt schon um 6 Uhr.") < update.index(
        "Die Hauptstraße wird für"
    )

    # 7. A news item without a lead image reaches WhatsApp too: as the template without header.
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    created = requests.post(
        stack.site_url,
        auth=ADMIN,
        headers=headers,
        timeout=30,
        json={
            "@type": "News Item",
            "title": "Hauptstraße wieder frei",
            "description": "Die Belagsarbeiten sind fertig.",
            "messenger_topics": ["baustellen-verkehr"],
        },
    )
    assert created.status_code == 201, created.text
    published = requests.post(
        f"{created.json()['@id']}/@workflow/publish",
        auth=ADMIN,
        headers=headers,
        timeout=30,
    )
    assert published.status_code == 200, published.text
    text_only = wait_for_post(sandbox, "whatsapp", "Hauptstraße wieder frei")
    assert text_only["kind"] == "template" and text_only["image"] is None
    assert text_only["template"] == "musterstadt_post_text"
    assert (
        whatsapp["template"] == "musterstadt_post"
    )  # the construction notice, with its image
    citizen.close()
    admin.close()
