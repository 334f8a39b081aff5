"""``@messenger-webhook/whatsapp``: Meta's handshake, X-Hub-Signature-256, messages, receipts."""

import json

import pytest
from webhooks_support import configure
from webhooks_support import encode
from webhooks_support import Hooks
from webhooks_support import payload
from webhooks_support import queued_replies
from webhooks_support import signature
from webhooks_support import WHATSAPP_APP_SECRET
from webhooks_support import WHATSAPP_NUMBER_ID
from webhooks_support import WHATSAPP_VERIFY_TOKEN

from messenger_worker import statuses
from messenger_worker.ledger import GONE_KEY
from messenger_worker.ledger import read_stats
from messenger_worker.ledger import stats_key

WA_ID = "16505551234"
WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3NTg0RjM0QjE1RjgzQkM2RjAA"


@pytest.fixture
def hooks(live_site, acceptance):
    configure(acceptance["portal"])
    return Hooks(live_site, acceptance["portal"])


def ours(data):
    """A documented example, sent to our phone number id."""
    for entry in data["entry"]:
        for change in entry["changes"]:
            change["value"]["metadata"]["phone_number_id"] = WHATSAPP_NUMBER_ID
    return data


def text_message(text, wa_id=WA_ID):
    data = ours(payload("whatsapp_text_message.json"))
    value = data["entry"][0]["changes"][0]["value"]
    value["messages"][0]["text"]["body"] = text
    value["messages"][0]["from"] = value["contacts"][0]["wa_id"] = wa_id
    return data


# -- the verification handshake --------------------------------------------------------------


def handshake(hooks, **params):
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": WHATSAPP_VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    query.update(params)
    query = {key: value for key, value in query.items() if value is not None}
    return hooks.session.get(hooks.url("whatsapp"), params=query, timeout=30)


def test_handshake_echoes_the_challenge(hooks):
    response = handshake(hooks)
    assert response.status_code == 200
    assert response.text == "1158201444"
    assert response.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.verify_token": "wrong"},
        {"hub.verify_token": None},
        {"hub.verify_token": WHATSAPP_VERIFY_TOKEN.lower()},
        {"hub.mode": "unsubscribe"},
        {"hub.mode": None},
        {"hub.challenge": None},
        {"hub.challenge": "9" * 300},
    ],
)
def test_handshake_refused(hooks, params):
    response = handshake(hooks, **params)
    assert response.status_code == 403
    assert "1158201444" not in response.text


def test_sandbox_runs_the_handshake_against_us(hooks, sandbox):
    sandbox.configure(whatsapp={"webhook_url": hooks.url("whatsapp")})
    assert sandbox.verify_whatsapp_webhook()["verified"] is True


# -- signatures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sign",
    [
        "",
        "sha256=",
        "sha1=abc",
        "sha256=" + "0" * 64,
        "garbage",
        signature(b"another body"),
        signature(b"x", "wrong-secret"),
    ],
)
def test_wrong_or_missing_signature_is_403_and_changes_nothing(
    hooks, plone_redis, sign
):
    pending = hooks.pending("whatsapp")
    before = hooks.snapshot(plone_redis)
    response = hooks.whatsapp(text_message(f"START {pending.confirm_token}"), sign=sign)
    assert response.status_code == 403
    assert hooks.snapshot(plone_redis) == before


def test_signature_over_other_bytes_of_the_same_json_is_403(hooks, plone_redis):
    pending = hooks.pending("whatsapp")
    data = text_message(f"START {pending.confirm_token}")
    signed = json.dumps(data).encode()
    sent = json.dumps(data, indent=1).encode()  # same JSON, other bytes
    before = hooks.snapshot(plone_redis)
    assert hooks.whatsapp(sent, sign=signature(signed)).status_code == 403
    assert hooks.snapshot(plone_redis) == before
    # Upper-case hex digits are the same signature.
    assert (
        hooks.whatsapp(
            sent, sign=signature(sent).upper().replace("SHA256=", "sha256=")
        ).status_code
        == 200
    )


def test_no_app_secret_refuses(hooks, plone_redis):
    import transaction

    from collective.messenger.settings.secrets import SecretStore

    SecretStore(hooks.portal).set("whatsapp_app_secret", None)
    transaction.commit()
    body = encode(text_message("STOP"))
    assert (
        hooks.whatsapp(body, sign=signature(body, WHATSAPP_APP_SECRET)).status_code
        == 403
    )
    assert hooks.whatsapp(body, sign=signature(body, "")).status_code == 403


# -- Meta's examples -------------------------------------------------------------------------


def test_documented_text_message_to_another_number_is_ignored(hooks, plone_redis):
    # As documented, for phone number id 106540352242922: not ours.
    response = hooks.whatsapp(payload("whatsapp_text_message.json"))
    assert response.status_code == 200
    assert response.json()["outcomes"] == []
    assert queued_replies(plone_redis) == []


def test_dashboard_test_message_is_answered(hooks, plone_redis):
    response = hooks.whatsapp(ours(payload("whatsapp_dashboard_test_message.json")))
    assert response.status_code == 200
    assert response.json()["outcomes"] == [
        "ignored"
    ]  # "this is a text message": no command


def test_start_activates_with_wa_id_and_stop_unsubscribes(hooks, plone_redis):
    pending = hooks.pending("whatsapp", topics=("warnungen",))
    response = hooks.whatsapp(text_message(f"START {pending.confirm_token}"))
    assert response.status_code == 200, response.text
    assert response.json()["outcomes"] == ["activated"]
    subscriber = hooks.store().get(pending.id)
    assert (subscriber.state, subscriber.address) == ("active", WA_ID)
    (welcome,) = queued_replies(plone_redis)
    assert welcome[0].startswith(f"welcome-{pending.id}-") and welcome[1][1:3] == [
        "whatsapp",
        WA_ID,
    ]
    assert "STOP" in welcome[2]

    assert hooks.whatsapp(text_message("Stop")).json()["outcomes"] == ["unsubscribed"]
    assert hooks.store().get(pending.id).state == "unsubscribed"


def test_quick_reply_button_counts_as_text(hooks):
    pending = hooks.pending("whatsapp")
    data = text_message("")
    message = data["entry"][0]["changes"][0]["value"]["messages"][0]
    message.update({
        "type": "button",
        "button": {"text": f"START {pending.confirm_token}", "payload": "x"},
    })
    del message["text"]
    assert hooks.whatsapp(data).json()["outcomes"] == ["activated"]


# -- delivery receipts -----------------------------------------------------------------------


def sent_post(redis_client, post_id="post-1", subscriber_id="sub-1", wamid=WAMID):
    """What the worker leaves after the API accepted a WhatsApp post message."""
    redis_client.hset(
        stats_key(post_id), mapping={"whatsapp:queued": 1, "whatsapp:sent": 1}
    )
    with redis_client.pipeline() as pipe:
        statuses.remember(pipe, wamid, post_id, subscriber_id)
        pipe.execute()


def receipt(status):
    return ours(payload(f"whatsapp_status_{status}.json"))


def test_receipts_are_counted_once_per_message(hooks, plone_redis):
    sent_post(plone_redis)
    for status in ("sent", "delivered", "delivered", "read", "read"):
        response = hooks.whatsapp(receipt(status))
        assert response.status_code == 200
    stats = read_stats(plone_redis, "post-1")["whatsapp"]
    assert stats == {"queued": 1, "sent": 1, "delivered": 1, "read": 1}
    assert plone_redis.ttl(statuses.message_key(WAMID)) > 0


def test_read_without_delivered_counts_both(hooks, plone_redis):
    # Meta leaves out "delivered" when a message is read at once.
    sent_post(plone_redis)
    assert hooks.whatsapp(receipt("read")).json()["outcomes"] == ["counted"]
    assert hooks.whatsapp(receipt("delivered")).json()["outcomes"] == ["ignored"]
    stats = read_stats(plone_redis, "post-1")["whatsapp"]
    assert (stats["delivered"], stats["read"]) == (1, 1)


def test_failed_after_send_counts_and_lists_the_subscriber_as_gone(hooks, plone_redis):
    sent_post(plone_redis, subscriber_id="sub-9")
    assert hooks.whatsapp(receipt("failed")).json()["outcomes"] == ["counted"]
    assert hooks.whatsapp(receipt("failed")).json()["outcomes"] == ["ignored"]
    assert read_stats(plone_redis, "post-1")["whatsapp"]["failed_after_send"] == 1
    gone = json.loads(plone_redis.hget(GONE_KEY, "whatsapp:sub-9"))
    assert gone["post"] == "post-1" and "could not deliver" in gone["reason"]


def test_receipts_of_unknown_messages_change_nothing(hooks, plone_redis):
    before = sorted(plone_redis.keys("*"))
    for status in ("sent", "delivered", "read", "failed"):
        assert hooks.whatsapp(receipt(status)).json()["outcomes"] == ["ignored"]
    assert sorted(plone_redis.keys("*")) == before


def test_receipt_with_wrong_signature_counts_nothing(hooks, plone_redis):
    sent_post(plone_redis)
    assert (
        hooks.whatsapp(receipt("delivered"), secret="not-the-app-secret").status_code
        == 403
    )
    assert "delivered" not in read_stats(plone_redis, "post-1")["whatsapp"]
