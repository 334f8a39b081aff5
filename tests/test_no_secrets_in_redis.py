"""End to end: after citizens signed up by code (Signal) and by link (Telegram), confirmed, asked
for their link again and a real worker sent every reply to the sandbox, Redis holds no phone
number, chat id, code, manage token or manage link, in no key of any type (RQ job hashes with
their compressed data, registries, results streams included).

Real parts only: the live site over HTTP, the sandbox's phones and signed webhooks, a
``messenger-worker run`` subprocess, the Plone layers' redis-server.
"""

import re

import pytest
import requests
import transaction
from conftest import wait_until
from redis_scan import keys_holding
from test_signup_page import enable_channels

from collective.messenger.signup.reply_outbox import get_reply_outbox
from collective.messenger.subscribers import get_store

NUMBER = "+4915198765432"
CHAT_ID = "7311945528"


def form_token(html):
    return re.search(r'name="form_token"[^>]*value="([^"]+)"', html).group(1)


def phone_messages(sandbox, channel, recipient, count):
    return wait_until(
        lambda: (
            len(sandbox.messages(channel=channel, recipient=recipient)) >= count
            and sandbox.messages(channel=channel, recipient=recipient)
        ),
        timeout=60,
        message=f"{count} message(s) on the {channel} phone {recipient}",
    )


def manage_link_in(text):
    return re.search(r"https?://\S+/@@messenger-manage/([A-Za-z0-9_-]+)", text)


def settled(redis_client):
    """No reply waits, runs or keeps its content: every reply reached its outcome."""
    from rq import Queue
    from rq.registry import StartedJobRegistry

    from messenger_worker import keys

    queues = [Queue(name, connection=redis_client) for name in keys.QUEUES]
    busy = sum(len(queue) + len(StartedJobRegistry(queue=queue)) for queue in queues)
    return busy == 0 and not list(redis_client.scan_iter("messenger:reply:*:content"))


@pytest.mark.timeout(240)
def test_no_number_code_token_or_link_lingers_in_redis(
    live_site, acceptance, sandbox, plone_worker, plone_redis
):
    portal = acceptance["portal"]
    enable_channels(portal, "telegram", "signal", base_url=sandbox.url)
    sandbox.configure(
        telegram={"webhook_url": f"{live_site}/@messenger-webhook/telegram"}
    )
    plone_worker()
    signup = f"{live_site}/@@messenger-signup"

    # Signal, by code.
    citizen = requests.Session()
    page = citizen.get(signup, timeout=30).text
    answer = citizen.post(
        signup,
        timeout=30,
        data={
            "step": "signup",
            "path": "page",
            "topics": "warnungen",
            "channel": "signal",
            "phone": "0151 98765432",
            "consent": "1",
            "form_token": form_token(page),
        },
    )
    assert answer.status_code == 200, answer.text[:1000]
    confirm_token = re.search(r'name="token"[^>]*value="([^"]+)"', answer.text).group(1)
    [code_message] = phone_messages(sandbox, "signal", NUMBER, 1)
    code = re.search(r": (\d{6})", code_message["text"]).group(1)
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
    signal_link = manage_link_in(welcome)
    assert signal_link, welcome

    # Telegram, by link; then "link" in the chat sends the manage link again.
    answer = citizen.post(
        signup,
        timeout=30,
        data={
            "step": "signup",
            "path": "portlet",
            "topics": "warnungen",
            "channel": "telegram",
            "consent": "1",
            "form_token": form_token(page),
        },
    )
    start_token = re.search(
        r"https://t\.me/musterstadt_bot\?start=([A-Za-z0-9_-]+)", answer.text
    ).group(1)
    assert (
        sandbox.citizen("telegram", CHAT_ID, text=f"/start {start_token}")["webhook"][
            "status"
        ]
        == 200
    )
    telegram_welcome = phone_messages(sandbox, "telegram", CHAT_ID, 1)[0]["text"]
    telegram_link = manage_link_in(telegram_welcome)
    assert sandbox.citizen("telegram", CHAT_ID, text="link")["webhook"]["status"] == 200
    again = phone_messages(sandbox, "telegram", CHAT_ID, 2)[1]["text"]
    assert manage_link_in(again).group(0) == telegram_link.group(0)

    transaction.begin()
    store = get_store(portal)
    assert store.by_manage_token(signal_link.group(1)).is_active
    assert store.by_manage_token(telegram_link.group(1)).is_active

    wait_until(
        lambda: settled(plone_redis), timeout=60, message="every reply sent and settled"
    )
    secrets = [
        NUMBER,
        NUMBER.lstrip("+"),
        "015198765432",
        "15198765432",  # the number, however written
        CHAT_ID,
        code,
        signal_link.group(1),
        telegram_link.group(1),  # manage tokens
        signal_link.group(0),
        telegram_link.group(0),  # manage links
        confirm_token,
        start_token,  # the signups' own tokens, too
    ]
    assert keys_holding(plone_redis, *secrets) == {}
    assert plone_redis.dbsize() > 10  # the scan saw the queues, marks and job hashes

    # Nor does the ZODB keep the replies' texts once Redis had them.
    transaction.begin()
    box = get_reply_outbox(portal, create=False)
    assert all(entry.text is None for entry in box.entries())
