"""The sandbox's Telegram Bot API, over real HTTP to the sandbox subprocess."""

import json
import time

import pytest
import requests

TOKEN = "123456:SANDBOX-TOKEN"


@pytest.fixture
def bot(sandbox):
    session = requests.Session()

    def call(method, token=TOKEN, **params):
        return session.post(
            f"{sandbox.api_url('telegram')}/bot{token}/{method}", json=params, timeout=5
        )

    yield call
    session.close()


def test_settings_point_a_worker_at_the_sandbox(sandbox):
    settings = sandbox.channel_settings("telegram")
    assert settings["api_url"] == sandbox.url + "/telegram"
    assert settings["bot_token"] == TOKEN
    assert settings["bot_username"] == "musterstadt_bot"
    assert settings["enabled"] is True and settings["webhook_secret"]


def test_get_me(bot):
    answer = bot("getMe")
    assert answer.status_code == 200
    assert answer.json()["result"]["username"] == "musterstadt_bot"
    assert answer.json()["result"]["is_bot"] is True


def test_send_message_answers_like_telegram(bot, sandbox):
    first = bot(
        "sendMessage",
        chat_id=1001,
        text="<b>Baustelle</b> in der Hauptstraße &amp; mehr",
        parse_mode="HTML",
        reply_markup={
            "inline_keyboard": [
                [{"text": "Weiterlesen", "url": "https://www.musterstadt.de/a"}]
            ]
        },
    )
    assert first.status_code == 200, first.text
    result = first.json()["result"]
    assert result["chat"] == {
        "id": 1001,
        "first_name": result["chat"]["first_name"],
        "type": "private",
    }
    assert result["text"] == "Baustelle in der Hauptstraße & mehr"
    assert result["entities"] == [{"offset": 0, "length": 9, "type": "bold"}]
    assert abs(result["date"] - time.time()) < 5
    assert result["from"]["username"] == "musterstadt_bot"
    second = bot("sendMessage", chat_id=1001, text="zwei").json()["result"]
    other = bot("sendMessage", chat_id=1002, text="eins").json()["result"]
    assert second["message_id"] == result["message_id"] + 1
    assert other["message_id"] == 1  # message ids count per chat

    [message] = sandbox.messages(channel="telegram", recipient="1001", limit=1)
    assert message["text"] == "zwei"
    [first_record, _] = sandbox.messages(channel="telegram", recipient="1001")
    assert first_record["kind"] == "text"
    assert first_record["buttons"] == [
        {"text": "Weiterlesen", "url": "https://www.musterstadt.de/a"}
    ]
    assert first_record["message_id"] == str(result["message_id"])


def test_reply_markup_may_be_json_text_in_a_form(sandbox):
    markup = json.dumps({
        "inline_keyboard": [[{"text": "Ansehen", "url": "https://example.org/x"}]]
    })
    answer = requests.post(
        f"{sandbox.api_url('telegram')}/bot{TOKEN}/sendMessage",
        data={"chat_id": "1001", "text": "Hallo", "reply_markup": markup},
        timeout=5,
    )
    assert (
        answer.json()["result"]["reply_markup"]["inline_keyboard"][0][0]["text"]
        == "Ansehen"
    )
    bad = requests.post(
        f"{sandbox.api_url('telegram')}/bot{TOKEN}/sendMessage",
        data={"chat_id": "1001", "text": "Hallo", "reply_markup": "{kaputt"},
        timeout=5,
    )
    assert (
        bad.json()["description"]
        == "Bad Request: can't parse reply keyboard markup JSON object"
    )


@pytest.mark.parametrize(
    "text, description",
    [
        (
            "<b>offen",
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
        ),
        (
            "<b>x</i>",
            'Bad Request: can\'t parse entities: Unmatched end tag at byte offset 4, expected "</b>", found "</i>"',
        ),
        (
            "ü <h1>x</h1>",
            'Bad Request: can\'t parse entities: Unsupported start tag "h1" at byte offset 3',
        ),
        (
            "a <b",
            "Bad Request: can't parse entities: Can't find end of the tag starting at byte offset 2",
        ),
    ],
)
def test_broken_html_is_rejected_with_telegrams_words(bot, text, description):
    answer = bot("sendMessage", chat_id=1001, text=text, parse_mode="HTML")
    assert answer.status_code == 400
    assert answer.json() == {"ok": False, "error_code": 400, "description": description}


def test_validation_errors(bot, sandbox):
    assert (
        bot("sendMessage", chat_id=1001, text="").json()["description"]
        == "Bad Request: message text is empty"
    )
    assert (
        bot("sendMessage", text="x").json()["description"]
        == "Bad Request: chat_id is empty"
    )
    long = bot("sendMessage", chat_id=1001, text="x" * 4097)
    assert (long.status_code, long.json()["description"]) == (
        400,
        "Bad Request: message is too long",
    )
    # The limit counts visible characters, not markup.
    assert (
        bot(
            "sendMessage",
            chat_id=1001,
            text="<b>" + "x" * 4096 + "</b>",
            parse_mode="HTML",
        ).status_code
        == 200
    )
    assert sandbox.stats()["telegram"]["validation_errors"] == 3


def test_send_photo(bot, sandbox):
    answer = bot(
        "sendPhoto",
        chat_id=1001,
        photo="https://www.musterstadt.de/bild.jpg",
        caption="<i>Neu</i>: Stadtfest",
        parse_mode="HTML",
    )
    result = answer.json()["result"]
    assert result["caption"] == "Neu: Stadtfest"
    assert result["caption_entities"] == [{"offset": 0, "length": 3, "type": "italic"}]
    assert len(result["photo"]) == 3 and result["photo"][0]["file_id"]
    [message] = sandbox.messages(channel="telegram")
    assert (message["kind"], message["image"], message["text"]) == (
        "photo",
        "https://www.musterstadt.de/bild.jpg",
        "Neu: Stadtfest",
    )
    too_long = bot(
        "sendPhoto", chat_id=1001, photo="https://x.de/a.jpg", caption="x" * 1025
    )
    assert too_long.json()["description"] == "Bad Request: message caption is too long"
    assert (
        bot("sendPhoto", chat_id=1001).json()["description"]
        == "Bad Request: there is no photo in the request"
    )


def test_photo_upload_and_unfetchable_photo(bot, sandbox):
    upload = requests.post(
        f"{sandbox.api_url('telegram')}/bot{TOKEN}/sendPhoto",
        data={"chat_id": "1001", "caption": "Hochgeladen"},
        files={"photo": ("bild.jpg", b"\xff\xd8\xff fake jpeg", "image/jpeg")},
        timeout=5,
    )
    assert upload.status_code == 200, upload.text
    assert upload.json()["result"]["caption"] == "Hochgeladen"
    sandbox.configure(telegram={"photo_errors": ["http://localhost:8080/bild.jpg"]})
    failed = bot("sendPhoto", chat_id=1001, photo="http://localhost:8080/bild.jpg")
    assert failed.json()["description"] == "Bad Request: failed to get HTTP URL content"


def test_wrong_token(bot):
    answer = bot("sendMessage", token="123456:WRONG", chat_id=1001, text="x")
    assert (answer.status_code, answer.json()) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert bot("getMe", token="kein-token").status_code == 404


def test_bad_token_mode(bot, sandbox):
    sandbox.configure(telegram={"bad_token": True})
    assert bot("getMe").status_code == 401


def test_recipients_the_platform_refuses(bot, sandbox):
    sandbox.configure(
        telegram={
            "blocked": ["2001"],
            "deactivated": ["2002"],
            "unknown": ["2003"],
            "migrated": {"-4711": -1004711},
        }
    )
    assert bot("sendMessage", chat_id=2001, text="x").json() == {
        "ok": False,
        "error_code": 403,
        "description": "Forbidden: bot was blocked by the user",
    }
    assert (
        bot("sendMessage", chat_id=2002, text="x").json()["description"]
        == "Forbidden: user is deactivated"
    )
    unknown = bot("sendMessage", chat_id=2003, text="x")
    assert (unknown.status_code, unknown.json()["description"]) == (
        400,
        "Bad Request: chat not found",
    )
    migrated = bot("sendMessage", chat_id=-4711, text="x").json()
    assert migrated["error_code"] == 400
    assert migrated["parameters"] == {"migrate_to_chat_id": -1004711}
    assert (
        bot("sendMessage", chat_id=-1004711, text="x").json()["result"]["chat"]["type"]
        == "supergroup"
    )
    assert sandbox.stats()["telegram"]["refused"] == 4
    assert sandbox.messages(channel="telegram", recipient="2001") == []


def test_rate_cap_answers_429_with_retry_after(bot, sandbox):
    sandbox.configure(telegram={"rate_limit": 0.5, "burst": 2})
    assert bot("sendMessage", chat_id=1001, text="1").status_code == 200
    assert bot("sendMessage", chat_id=1001, text="2").status_code == 200
    answer = bot("sendMessage", chat_id=1001, text="3")
    assert answer.status_code == 429
    body = answer.json()
    assert body["parameters"]["retry_after"] == 2
    assert body["description"] == "Too Many Requests: retry after 2"
    assert sandbox.stats()["telegram"]["rate_limited"] == 1


def test_injected_server_errors_and_latency(bot, sandbox):
    sandbox.configure(telegram={"error_rate": 1.0})
    answer = bot("sendMessage", chat_id=1001, text="x")
    assert answer.status_code == 500 and answer.json()["ok"] is False
    assert sandbox.stats()["telegram"]["injected_errors"] == 1
    sandbox.configure(telegram={"error_rate": 0.0, "latency_ms": 300})
    started = time.monotonic()
    assert bot("getMe").status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.Timeout):
        requests.post(
            f"{sandbox.api_url('telegram')}/bot{TOKEN}/sendMessage",
            json={"chat_id": 1001, "text": "late"},
            timeout=0.1,
        )
    # The message went out although the answer came too late, as on the real platform.
    time.sleep(0.3)
    assert sandbox.messages(channel="telegram", recipient="1001")[-1]["text"] == "late"


def test_set_webhook_and_info(bot, sandbox):
    answer = bot("setWebhook", url="https://plone.example/tg", secret_token="abc_DEF-1")
    assert answer.json() == {
        "ok": True,
        "result": True,
        "description": "Webhook was set",
    }
    assert bot("getWebhookInfo").json()["result"]["url"] == "https://plone.example/tg"
    assert sandbox.config()["telegram"]["webhook_secret"] == "abc_DEF-1"


def test_citizen_start_reaches_the_webhook_with_the_secret(
    bot, sandbox, webhook_receiver
):
    sandbox.configure(
        telegram={"webhook_url": webhook_receiver.url, "webhook_secret": "s3cret"}
    )
    answer = sandbox.citizen("telegram", 1001, text="/start abc123", name="Erika")
    assert answer["webhook"]["status"] == 200
    [request] = webhook_receiver.wait(1)
    assert request["headers"]["x-telegram-bot-api-secret-token"] == "s3cret"
    update = json.loads(request["body"])
    message = update["message"]
    assert message["text"] == "/start abc123"
    assert message["chat"] == {"id": 1001, "first_name": "Erika", "type": "private"}
    assert message["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
    assert isinstance(update["update_id"], int)
    # The bot's reply shares the chat's message ids.
    reply = bot("sendMessage", chat_id=1001, text="Willkommen").json()["result"]
    assert reply["message_id"] == message["message_id"] + 1


def test_citizen_blocks_the_bot(bot, sandbox, webhook_receiver):
    sandbox.configure(telegram={"webhook_url": webhook_receiver.url})
    assert bot("sendMessage", chat_id=1001, text="vorher").status_code == 200
    assert sandbox.citizen("telegram", 1001, action="block")["webhook"]["status"] == 200
    update = json.loads(webhook_receiver.wait(1)[0]["body"])
    assert update["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    assert (
        update["my_chat_member"]["new_chat_member"]["user"]["username"]
        == "musterstadt_bot"
    )
    assert bot("sendMessage", chat_id=1001, text="nachher").status_code == 403


def test_phone_page_shows_the_chat(bot, sandbox):
    bot(
        "sendPhoto",
        chat_id=1001,
        photo="https://www.musterstadt.de/fest.jpg",
        caption="<b>Stadtfest</b> &lt;script&gt;",
        parse_mode="HTML",
        reply_markup={
            "inline_keyboard": [
                [{"text": "Programm", "url": "https://www.musterstadt.de/fest"}]
            ]
        },
    )
    sandbox.citizen("telegram", 1001, text="Danke <3")
    page = requests.get(f"{sandbox.url}/_sandbox/phone/telegram/1001", timeout=5)
    assert page.status_code == 200
    assert "<b>Stadtfest</b> &lt;script&gt;" in page.text
    assert 'src="https://www.musterstadt.de/fest.jpg"' in page.text
    assert (
        'href="https://www.musterstadt.de/fest"' in page.text
        and "Programm" in page.text
    )
    assert "Danke &lt;3" in page.text
    assert 'name="viewport"' in page.text
    index = requests.get(f"{sandbox.url}/_sandbox/", timeout=5)
    assert "/_sandbox/phone/telegram/1001" in index.text
