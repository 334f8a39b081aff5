"""``@messenger-webhook/telegram``: secret header, Telegram's update shapes, commands."""

import pytest
from webhooks_support import configure
from webhooks_support import Hooks
from webhooks_support import new_delivery
from webhooks_support import payload
from webhooks_support import queued_replies
from webhooks_support import TELEGRAM_SECRET


@pytest.fixture
def hooks(live_site, acceptance):
    configure(acceptance["portal"])
    return Hooks(live_site, acceptance["portal"])


def start_update(token, chat_id=77462709):
    update = payload("telegram_message_private.json")
    update["message"]["text"] = f"/start {token}"
    update["message"]["chat"]["id"] = update["message"]["from"]["id"] = chat_id
    return update


def text_update(text, chat_id=77462709):
    update = start_update("x", chat_id)
    update["message"]["text"] = text
    del update["message"]["entities"]
    return update


# -- verification ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        None,
        "",
        "wrong",
        TELEGRAM_SECRET + "x",
        TELEGRAM_SECRET[:-1],
        TELEGRAM_SECRET.lower(),
        "SANDBOX-WEBHOOK-SECRÉT",
    ],
)
def test_missing_or_wrong_secret_is_403_and_changes_nothing(hooks, plone_redis, secret):
    pending = hooks.pending()
    before = hooks.snapshot(plone_redis)
    response = hooks.telegram(start_update(pending.confirm_token), secret=secret)
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("application/json")
    assert "could not be verified" in response.json()["error"]["message"]
    assert hooks.snapshot(plone_redis) == before
    assert hooks.store().get(pending.id).is_pending


def test_no_secret_configured_refuses_everything(hooks, plone_redis):
    import transaction

    from collective.messenger.settings.secrets import SecretStore

    SecretStore(hooks.portal).set("telegram_webhook_secret", None)
    transaction.commit()
    pending = hooks.pending()
    before = hooks.snapshot(plone_redis)
    for secret in (TELEGRAM_SECRET, "", None):
        assert (
            hooks.telegram(
                start_update(pending.confirm_token), secret=secret
            ).status_code
            == 403
        )
    assert hooks.snapshot(plone_redis) == before


def test_secret_from_the_environment_wins(hooks, monkeypatch):
    monkeypatch.setenv("MESSENGER_TELEGRAM_WEBHOOK_SECRET", "from-the-environment")
    assert (
        hooks.telegram(text_update("hello"), secret=TELEGRAM_SECRET).status_code == 403
    )
    assert (
        hooks.telegram(text_update("hello"), secret="from-the-environment").status_code
        == 200
    )


# -- Telegram's examples ---------------------------------------------------------------------


def test_documented_text_message_without_token_gets_an_answer(hooks, plone_redis):
    # Telegram's own sample ("/start" without a token, old format without chat type).
    response = hooks.telegram(payload("telegram_message_text.json"))
    assert response.status_code == 200
    assert response.json() == {"ok": True, "outcomes": ["unknown-token"]}
    assert hooks.store().counts()["total"] == 0
    (reply,) = queued_replies(plone_redis)
    assert reply[0].startswith("unknown-") and reply[1][2] == "1111111"
    assert "@@messenger-signup" in reply[2]  # "unknown or expired link, sign up at ..."


def test_start_with_token_activates_and_queues_the_welcome(hooks, plone_redis):
    pending = hooks.pending(topics=("baustellen-verkehr", "warnungen"))
    response = hooks.telegram(start_update(pending.confirm_token, chat_id=4711))
    assert response.status_code == 200, response.text
    assert response.json()["outcomes"] == ["activated"]
    subscriber = hooks.store().get(pending.id)
    assert subscriber.state == "active"
    assert subscriber.address == "4711"
    (reply,) = queued_replies(plone_redis)
    reply_id, recipient, text = reply
    assert reply_id.startswith(f"welcome-{pending.id}-")
    assert recipient[1:3] == ["telegram", "4711"]
    assert "/stop" in text


def test_edited_message_is_ignored(hooks, plone_redis):
    response = hooks.telegram(payload("telegram_edited_message.json"))
    assert response.status_code == 200
    assert response.json()["outcomes"] == []
    assert queued_replies(plone_redis) == []


def test_stop_unsubscribes_and_kicked_marks_unreachable(hooks, plone_redis):
    first, second = hooks.pending(), hooks.pending()
    assert hooks.telegram(start_update(first.confirm_token, 1001)).json()[
        "outcomes"
    ] == ["activated"]
    assert hooks.telegram(start_update(second.confirm_token, 77462709)).json()[
        "outcomes"
    ] == ["activated"]

    assert hooks.telegram(text_update("/stop@musterstadt_bot", 1001)).json()[
        "outcomes"
    ] == ["unsubscribed"]
    assert hooks.store().get(first.id).state == "unsubscribed"

    blocked = payload("telegram_my_chat_member_kicked.json")
    assert hooks.telegram(blocked).json()["outcomes"] == ["unreachable"]
    assert hooks.store().get(second.id).state == "unreachable"
    # Telegram repeats an update it considers undelivered: nothing changes twice.
    assert hooks.telegram(blocked).json()["outcomes"] == ["ignored"]


def test_member_again_is_not_a_block(hooks):
    update = payload("telegram_my_chat_member_kicked.json")
    update["my_chat_member"]["new_chat_member"]["status"] = "member"
    assert hooks.telegram(update).json()["outcomes"] == []


def test_unexpected_shapes_are_ignored_not_errors(hooks):
    odd = [
        {},
        {"update_id": 1},
        {"message": "text"},
        {"message": {"chat": {"id": "12"}, "text": "/stop"}},
        {"message": {"chat": {"id": True}, "text": "/stop"}},
        {"message": {"chat": {"id": 12}, "text": 5}},
        {"my_chat_member": {"chat": {"id": 12}, "new_chat_member": "kicked"}},
        {"callback_query": {"id": "1", "data": "x"}},
    ]
    for update in odd:
        response = hooks.telegram(update)
        assert response.status_code == 200, (update, response.text)
        assert response.json()["outcomes"] == []


def test_routes_also_under_plusplus_api_and_with_json_accept(hooks):
    update = text_update("hello")
    response = hooks.session.post(
        f"{hooks.site_url}/++api++/@messenger-webhook/telegram",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        timeout=30,
    )
    assert response.status_code == 200
    response = hooks.session.post(
        hooks.url("telegram"),
        json=new_delivery("telegram", update),
        headers={
            "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
            "Accept": "application/json",
        },
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json()["outcomes"] == ["ignored"]


# -- chat ids the subscriber store does not take ---------------------------------------------

LONG_CHAT_ID = 10**70  # 71 digits; the store takes addresses of at most 64 characters


def test_chat_id_longer_than_64_characters_is_answered_200_and_changes_nothing(
    hooks, plone_redis, caplog
):
    pending = hooks.pending()
    before = hooks.snapshot(plone_redis)
    blocked = payload("telegram_my_chat_member_kicked.json")
    blocked["my_chat_member"]["chat"]["id"] = LONG_CHAT_ID
    for update in (
        start_update(pending.confirm_token, LONG_CHAT_ID),
        text_update("/stop", LONG_CHAT_ID),
        text_update("link", LONG_CHAT_ID),
        blocked,
    ):
        response = hooks.telegram(update)
        # Telegram repeats any update not answered 200, for a day.
        assert response.status_code == 200, response.text
        assert response.json() == {"ok": True, "outcomes": ["refused"]}
    after = hooks.snapshot(plone_redis)
    # Only the replay marks of the four updates are new.
    after["redis"] = [
        key for key in after["redis"] if not key.startswith(b"messenger:webhook-seen:")
    ]
    assert after == before
    assert hooks.store().get(pending.id).is_pending
    assert queued_replies(plone_redis) == []
    logged = [
        r.getMessage() for r in caplog.records if "does not take it" in r.getMessage()
    ]
    assert len(logged) == 4
    assert (
        "Ignored a telegram message" in logged[0]
        and "longer than 64 characters" in logged[0]
    )
    assert str(LONG_CHAT_ID) not in " ".join(logged)
    # The same token still works from a real chat.
    assert hooks.telegram(start_update(pending.confirm_token, 4711)).json()[
        "outcomes"
    ] == ["activated"]
