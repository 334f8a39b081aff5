"""The Telegram channel against the sandbox's Bot API, over real HTTP."""

import pytest
import requests

from messenger_worker.channels import channel_class
from messenger_worker.channels.base import CheckResult
from messenger_worker.payload import Post
from messenger_worker.payload import Recipient


@pytest.fixture
def telegram(sandbox):
    with requests.Session() as session:
        yield channel_class("telegram")(
            sandbox.channel_settings("telegram"), session, timeout=(2, 2)
        )


def make_post(**changes):
    values = dict(
        id="p1",
        content_uid="uid-1",
        kind="news",
        title="Tom & Jerry <live> im Rathaus",
        url="https://www.musterstadt.de/aktuelles/tom-jerry",
        teaser="Eintritt frei & für alle < 99 Jahre.",
    )
    values.update(changes)
    return Post(**values)


def to(address):
    return Recipient("s1", "telegram", str(address))


def test_sent_with_bold_escaped_title_and_read_more_button(sandbox, telegram):
    outcome = telegram.send(make_post(), to(4711))
    assert outcome.kind == "sent", outcome.reason
    [message] = sandbox.messages(channel="telegram", recipient="4711")
    assert message["message_id"] == outcome.message_id
    assert message["kind"] == "text"
    assert message["text"].startswith(
        "Tom & Jerry <live> im Rathaus\n\nEintritt frei & für alle < 99 Jahre."
    )
    assert "<b>Tom &amp; Jerry &lt;live&gt; im Rathaus</b>" in message["raw"]
    assert message["buttons"] == [
        {"text": "Weiterlesen", "url": "https://www.musterstadt.de/aktuelles/tom-jerry"}
    ]


def test_english_post_has_a_read_more_button(sandbox, telegram):
    assert telegram.send(make_post(language="en"), to(4711)).kind == "sent"
    [message] = sandbox.messages(channel="telegram", recipient="4711")
    assert message["buttons"][0]["text"] == "Read more"


def test_photo_with_caption_cut_to_1024_keeping_the_link(sandbox, telegram):
    post = make_post(
        image_url="https://www.musterstadt.de/bild.jpg",
        teaser="Sehr viel Text & mehr. " * 100,
    )
    outcome = telegram.send(post, to(4711))
    assert outcome.kind == "sent", outcome.reason
    [message] = sandbox.messages(channel="telegram", recipient="4711")
    assert message["kind"] == "photo"
    assert message["image"] == "https://www.musterstadt.de/bild.jpg"
    assert len(message["text"]) <= 1024
    assert message["text"].endswith(
        "…\n\nhttps://www.musterstadt.de/aktuelles/tom-jerry"
    )


def test_long_text_cut_to_4096(sandbox, telegram):
    outcome = telegram.send(make_post(teaser="Baustelle " * 1000), to(4711))
    assert outcome.kind == "sent", outcome.reason
    [message] = sandbox.messages(channel="telegram", recipient="4711")
    assert 4000 < len(message["text"]) <= 4096
    assert message["text"].endswith(
        "Baustelle…\n\nhttps://www.musterstadt.de/aktuelles/tom-jerry"
    )


def test_image_telegram_cannot_fetch_falls_back_to_text(sandbox, telegram):
    outcome = telegram.send(
        make_post(image_url="ftp://files.musterstadt.de/bild.jpg"), to(4711)
    )
    assert outcome.kind == "sent", outcome.reason
    [message] = sandbox.messages(channel="telegram", recipient="4711")
    assert message["kind"] == "text"


def test_link_telegram_refuses_in_a_button_goes_out_in_the_text_only(sandbox, telegram):
    outcome = telegram.send(
        make_post(url="www.musterstadt.de/aktuelles/tom-jerry"), to(4711)
    )
    assert outcome.kind == "sent", outcome.reason
    [message] = sandbox.messages(channel="telegram", recipient="4711")
    assert message["buttons"] == []
    assert message["text"].endswith("www.musterstadt.de/aktuelles/tom-jerry")


def test_rate_limit_asks_to_retry_after_and_pause_the_bucket(sandbox, telegram):
    sandbox.configure(telegram={"rate_limit": 1, "burst": 1})
    assert telegram.send(make_post(), to(1)).kind == "sent"
    outcome = telegram.send(make_post(), to(2))
    assert outcome.kind == "retry"
    assert outcome.retry_after >= 1
    assert outcome.pause_bucket is True


@pytest.mark.parametrize(
    "listing, words",
    [
        ("blocked", "blocked"),
        ("deactivated", "deleted their account"),
        ("unknown", "does not know this chat"),
    ],
)
def test_unreachable_users_are_gone(sandbox, telegram, listing, words):
    sandbox.configure(telegram={listing: ["666"]})
    outcome = telegram.send(make_post(), to(666))
    assert outcome.kind == "gone"
    assert words in outcome.reason
    assert sandbox.messages(channel="telegram", recipient="666") == []


def test_migrated_group_is_followed_and_the_new_id_returned(sandbox, telegram):
    sandbox.configure(telegram={"migrated": {"-4711": -1004711}})
    outcome = telegram.send(make_post(), to(-4711))
    assert outcome.kind == "sent", outcome.reason
    assert outcome.new_address == "-1004711"
    assert len(sandbox.messages(channel="telegram", recipient="-1004711")) == 1


def test_unknown_public_channel_is_a_setting_to_fix_not_a_gone_subscriber(
    sandbox, telegram
):
    outcome = telegram.send(make_post(), to("@musterstadt_baustellen"))
    # The sandbox does not know public channels; real Telegram answers the same for a
    # channel name it cannot find.
    assert outcome.kind == "failed"
    assert "@musterstadt_baustellen" in outcome.reason


def test_bad_token_pauses_the_channel(sandbox, telegram):
    sandbox.configure(telegram={"bad_token": True})
    outcome = telegram.send(make_post(), to(4711))
    assert outcome.kind == "pause"
    assert "bot token" in outcome.reason
    assert telegram.settings["bot_token"] not in outcome.reason


def test_server_errors_are_retried_with_back_off(sandbox, telegram):
    sandbox.configure(telegram={"error_rate": 1.0})
    outcome = telegram.send(make_post(), to(4711))
    assert outcome.kind == "retry"
    assert outcome.retry_after is None
    assert "server error" in outcome.reason


def test_timeout_is_retried_with_back_off(sandbox):
    sandbox.configure(telegram={"latency_ms": 1500})
    with requests.Session() as session:
        channel = channel_class("telegram")(
            sandbox.channel_settings("telegram"), session, timeout=(1, 0.5)
        )
        outcome = channel.send(make_post(), to(4711))
    assert outcome.kind == "retry"
    assert outcome.retry_after is None
    assert "did not answer in time" in outcome.reason


def test_connection_refused_is_retried(telegram):
    telegram.settings = dict(telegram.settings, api_url="http://127.0.0.1:9/telegram")
    outcome = telegram.send(make_post(), to(4711))
    assert outcome.kind == "retry"
    assert "Could not connect" in outcome.reason


def test_check_reports_the_bot(telegram):
    result = telegram.check()
    assert result == CheckResult(True, result.detail)
    assert "@musterstadt_bot" in result.detail


def test_check_with_a_bad_token(sandbox, telegram):
    sandbox.configure(telegram={"bad_token": True})
    result = telegram.check()
    assert result.ok is False
    assert "bot token" in result.detail


def test_account_is_the_bot_id(telegram):
    assert telegram.account() == telegram.settings["bot_token"].split(":")[0]
