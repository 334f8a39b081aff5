"""End to end: Redis is down while a citizen asks for a code; the code waits in the reply
outbox, and when Redis is back an admin's "Send waiting replies now" hands it over, a real
worker sends it to the sandbox phone, and the citizen confirms with it. The live site over
HTTP, a ``messenger-worker run`` subprocess, the sandbox."""

import os
import re

import pytest
import requests
from conftest import PASSWORD
from conftest import wait_until
from test_no_secrets_in_redis import form_token
from test_no_secrets_in_redis import phone_messages
from test_signup_page import enable_channels

from messenger_worker.connection import REDIS_URL_VARIABLE

NUMBER = "+4915198765433"


@pytest.mark.timeout(180)
def test_a_code_asked_for_while_redis_was_down_arrives_later(
    live_site, acceptance, sandbox, plone_worker
):
    enable_channels(acceptance["portal"], "signal", base_url=sandbox.url)
    plone_worker()
    signup = f"{live_site}/@@messenger-signup"
    citizen = requests.Session()
    page = citizen.get(signup, timeout=30).text

    real_url = os.environ[REDIS_URL_VARIABLE]
    os.environ[REDIS_URL_VARIABLE] = "redis://127.0.0.1:9/0"  # the site's Redis is down
    try:
        answer = citizen.post(
            signup,
            timeout=30,
            data={
                "step": "signup",
                "path": "page",
                "topics": "warnungen",
                "channel": "signal",
                "phone": "0151 98765433",
                "consent": "1",
                "form_token": form_token(page),
            },
        )
    finally:
        os.environ[REDIS_URL_VARIABLE] = real_url
    assert answer.status_code == 200, answer.text[:1000]
    assert "We sent a code to your number" in answer.text  # the signup itself succeeded
    confirm_token = re.search(r'name="token"[^>]*value="([^"]+)"', answer.text).group(1)

    admin = requests.Session()
    admin.auth = ("siteadmin", PASSWORD)
    dashboard = admin.get(f"{live_site}/@@messenger-dashboard", timeout=30).text
    assert "Replies waiting for the queue: 1." in dashboard
    assert sandbox.messages(channel="signal", recipient=NUMBER) == []
    authenticator = re.search(
        r'id="messenger-code-budget".*?name="_authenticator" value="([^"]+)"',
        dashboard,
        re.S,
    ).group(1)
    after = admin.post(
        f"{live_site}/@@messenger-send-replies",
        data={"_authenticator": authenticator},
        timeout=30,
    )
    assert "Replies handed to the queue: 1." in after.text

    [message] = phone_messages(sandbox, "signal", NUMBER, 1)
    code = re.search(r": (\d{6})", message["text"]).group(1)
    answer = citizen.post(
        signup,
        timeout=30,
        data={
            "step": "confirm",
            "token": confirm_token,
            "code": code,
            "form_token": form_token(answer.text),
        },
    )
    assert "You are subscribed" in answer.text
    welcome = phone_messages(sandbox, "signal", NUMBER, 2)[1]["text"]
    assert "@@messenger-manage/" in welcome and "Send link" in welcome
    wait_until(
        lambda: (
            "No replies are waiting."
            in admin.get(f"{live_site}/@@messenger-dashboard", timeout=30).text
        ),
        timeout=30,
        message="the dashboard to show no waiting replies",
    )
