"""Replies to citizens (welcome, goodbye) as RQ jobs: real Redis, worker processes, the sandbox."""

import json
import re
import time

import pytest
import requests
from conftest import wait_until
from delivery_support import reply_state
from rq import Queue
from rq.serializers import JSONSerializer

from messenger_worker import fanout
from messenger_worker import keys
from messenger_worker import render
from messenger_worker import replies
from messenger_worker import settings
from messenger_worker.channels import channel_class
from messenger_worker.ledger import GONE_KEY
from messenger_worker.ledger import read_stats as read_post_stats
from messenger_worker.pauses import ChannelPauses
from messenger_worker.payload import Post
from messenger_worker.payload import Recipient

FAST = {"backoff_base_seconds": 0.2, "pause_recheck_seconds": 1}

WELCOME = (
    "Willkommen beim Newsletter der Stadt <Musterstadt> & Umgebung!\nAbmelden: /stop"
)

ADDRESSES = {
    "telegram": "1001",
    "whatsapp": "4915112345678",
    "signal": "+4915112345678",
    "threema": "ECHOECHO",
}


def publish(redis_client, sandbox, rates=None, **extra):
    document = dict(sandbox.settings_document(), **FAST, **extra)
    for channel, rate in (rates or {}).items():
        document["channels"][channel]["rate"] = rate
    return settings.publish(redis_client, document)


def person(channel, number=1, address=None):
    return Recipient(f"sub-{number}", channel, address or ADDRESSES[channel])


def state(redis_client, reply_id):
    return reply_state(redis_client, reply_id)


def reply_stats(redis_client, channel):
    return replies.read_stats(redis_client).get(channel, {})


def settled(redis_client, reply_id):
    return state(redis_client, reply_id)[0] in ("sent", "gone", "failed")


# -- enqueueing ------------------------------------------------------------------------------


def test_job_ids_are_deterministic_valid_and_distinct():
    first = replies.reply_job_id("welcome-42")
    assert first == replies.reply_job_id("welcome-42")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", first)
    assert first.startswith("reply-welcome_42-")
    # Characters RQ refuses become "_", the hash keeps such ids apart.
    assert replies.reply_job_id("welcome_42") != first
    assert re.fullmatch(r"[A-Za-z0-9_-]+", replies.reply_job_id("goodbye-ä/ö 3:2"))


def test_enqueue_puts_one_json_job_on_the_low_queue(redis_client):
    recipient = person("telegram")
    job_id = replies.enqueue_reply(redis_client, "welcome-sub-1", recipient, WELCOME)
    assert job_id == replies.reply_job_id("welcome-sub-1")
    # The same reply again changes nothing.
    assert (
        replies.enqueue_reply(redis_client, "welcome-sub-1", recipient, WELCOME)
        == job_id
    )
    queue = Queue(keys.QUEUE_LOW, connection=redis_client, serializer=JSONSerializer)
    assert queue.job_ids == [job_id]
    job = queue.fetch_job(job_id)
    assert job.func_name == "messenger_worker.replies.send_reply"
    # Neither the address nor the text are in the job: they wait in a short-lived value.
    assert job.args == ["welcome-sub-1", "telegram", 0]
    assert job.description == "reply welcome-sub-1 (telegram)"
    assert job.retries_left == fanout.JOB_RETRY.max
    assert replies.read_content(redis_client, "welcome-sub-1") == (recipient, WELCOME)
    ttl = redis_client.ttl(replies.content_key("welcome-sub-1"))
    assert replies.CONTENT_TTL_SECONDS - 60 < ttl <= replies.CONTENT_TTL_SECONDS


def test_a_reply_whose_job_failed_for_good_is_enqueued_afresh(redis_client):
    from rq.job import JobStatus

    recipient = person("telegram")
    job_id = replies.enqueue_reply(redis_client, "welcome-sub-1", recipient, WELCOME)
    queue = Queue(keys.QUEUE_LOW, connection=redis_client, serializer=JSONSerializer)
    job = queue.fetch_job(job_id)
    queue.remove(job)
    job.set_status(JobStatus.FAILED)
    assert queue.job_ids == []
    assert (
        replies.enqueue_reply(redis_client, "welcome-sub-1", recipient, WELCOME)
        == job_id
    )
    assert queue.job_ids == [job_id]
    assert queue.fetch_job(job_id).get_status() == JobStatus.QUEUED


def test_enqueue_refuses_unknown_channels(redis_client):
    with pytest.raises(ValueError):
        replies.enqueue_reply(
            redis_client, "welcome-x", Recipient("x", "fax", "123"), "Hallo"
        )


def test_a_sent_reply_is_not_enqueued_again(redis_client):
    redis_client.set(replies.reply_key("welcome-sub-1"), "s:77")
    replies.enqueue_reply(redis_client, "welcome-sub-1", person("telegram"), WELCOME)
    assert Queue(keys.QUEUE_LOW, connection=redis_client).count == 0


# -- send_text of each channel, directly against the sandbox ----------------------------------


@pytest.fixture
def session():
    with requests.Session() as session:
        yield session


def channel(name, sandbox, session):
    return channel_class(name)(sandbox.channel_settings(name), session, timeout=(2, 2))


def test_telegram_text_is_escaped_without_link_preview(sandbox, session):
    telegram = channel("telegram", sandbox, session)
    payload = telegram.text_message("a <b> & c https://x.de", "1001")
    assert payload["parse_mode"] == "HTML"
    assert payload["text"] == "a &lt;b&gt; &amp; c https://x.de"
    assert payload["link_preview_options"] == {"is_disabled": True}
    outcome = telegram.send_text(person("telegram"), WELCOME)
    assert outcome.kind == "sent", outcome.reason
    [message] = sandbox.messages(channel="telegram", recipient="1001")
    assert message["text"] == WELCOME
    assert message["message_id"] == outcome.message_id


def test_telegram_long_text_is_cut_to_4096(sandbox, session):
    telegram = channel("telegram", sandbox, session)
    outcome = telegram.send_text(person("telegram"), "Wörter & <Zeichen> " * 400)
    assert outcome.kind == "sent", outcome.reason
    [message] = sandbox.messages(channel="telegram")
    assert 4000 < render.utf16_size(message["text"]) <= 4096
    assert message["text"].endswith("…")


def test_telegram_text_follows_a_migrated_group(sandbox, session):
    sandbox.configure(telegram={"migrated": {"-4711": -1004711}})
    outcome = channel("telegram", sandbox, session).send_text(
        person("telegram", address="-4711"), "Hallo"
    )
    assert outcome.kind == "sent", outcome.reason
    assert outcome.new_address == "-1004711"


def test_signal_text_is_plain(sandbox, session):
    outcome = channel("signal", sandbox, session).send_text(
        person("signal"), "**nicht fett** ~so~"
    )
    assert outcome.kind == "sent", outcome.reason
    [message] = sandbox.messages(channel="signal")
    assert message["text"] == "**nicht fett** ~so~"
    assert message["text_mode"] == "normal"


def test_threema_text_is_cut_to_3500_bytes(sandbox, session):
    outcome = channel("threema", sandbox, session).send_text(
        person("threema"), "Straßenfest " * 400
    )
    assert outcome.kind == "sent", outcome.reason
    [message] = sandbox.messages(channel="threema")
    assert 3400 < render.utf8_size(message["text"]) <= 3500


@pytest.mark.parametrize(
    "name,config,kind",
    [
        ("telegram", {"blocked": ["1001"]}, "gone"),
        ("telegram", {"bad_token": True}, "pause"),
        ("signal", {"unknown": ["+4915112345678"]}, "gone"),
        ("signal", {"bad_token": True}, "pause"),
        ("threema", {"bad_token": True}, "pause"),
        ("threema", {"error_rate": 1.0}, "retry"),
    ],
)
def test_send_text_classifies_like_send(sandbox, session, name, config, kind):
    sandbox.configure(**{name: config})
    assert channel(name, sandbox, session).send_text(person(name), "Hallo").kind == kind


# -- the job, run by worker processes ---------------------------------------------------------


@pytest.mark.parametrize("name", ["telegram", "whatsapp", "signal", "threema"])
def test_welcome_reply_reaches_the_phone(redis_client, sandbox, start_worker, name):
    if name == "whatsapp":
        # The citizen's "START <token>" opens the 24 h window in which free text is allowed.
        sandbox.citizen("whatsapp", ADDRESSES["whatsapp"], text="START abc123")
    publish(redis_client, sandbox)
    replies.enqueue_reply(redis_client, "welcome-sub-1", person(name), WELCOME)
    start_worker()
    wait_until(lambda: settled(redis_client, "welcome-sub-1"), message="reply")
    status, message_id = state(redis_client, "welcome-sub-1")
    assert status == "sent", message_id
    [message] = sandbox.messages(channel=name)
    assert message["text"] == WELCOME
    assert message["message_id"] == message_id
    assert reply_stats(redis_client, name)["sent"] == 1
    assert redis_client.ttl(replies.reply_key("welcome-sub-1")) > 6 * 24 * 3600
    # Sent: the address and the text are gone from Redis at once.
    assert not redis_client.exists(replies.content_key("welcome-sub-1"))


def test_the_same_reply_is_sent_once(redis_client, sandbox, start_worker):
    publish(redis_client, sandbox)
    recipient = person("telegram")
    replies.enqueue_reply(redis_client, "welcome-sub-1", recipient, WELCOME)
    replies.enqueue_reply(redis_client, "welcome-sub-1", recipient, WELCOME)
    # The job itself runs twice, too (as after a lost worker): its mark stops the second run.
    queue = Queue(keys.QUEUE_LOW, connection=redis_client, serializer=JSONSerializer)
    queue.enqueue(
        replies.SEND_REPLY, "welcome-sub-1", "telegram", 0, job_id="second-run"
    )
    replies.enqueue_reply(redis_client, "goodbye-sub-1-1", recipient, "Auf Wiedersehen")
    start_worker()
    wait_until(lambda: settled(redis_client, "goodbye-sub-1-1"), message="replies")
    wait_until(lambda: queue.count == 0, message="empty queue")
    time.sleep(0.5)
    assert [m["text"] for m in sandbox.messages(channel="telegram")].count(WELCOME) == 1
    assert reply_stats(redis_client, "telegram")["sent"] == 2
    # Enqueued once more after it was sent: still once.
    replies.enqueue_reply(redis_client, "welcome-sub-1", recipient, WELCOME)
    time.sleep(1)
    assert [m["text"] for m in sandbox.messages(channel="telegram")].count(WELCOME) == 1


def test_a_reply_not_sent_before_its_text_expired_fails_with_the_reason(
    redis_client, sandbox, start_worker
):
    publish(redis_client, sandbox)
    replies.enqueue_reply(
        redis_client, "code-sub-1", person("signal"), "Ihr Code: 482913"
    )
    # Half an hour passed without a worker: the address and the text are gone.
    redis_client.delete(replies.content_key("code-sub-1"))
    start_worker()
    wait_until(lambda: settled(redis_client, "code-sub-1"), message="reply")
    status, reason = state(redis_client, "code-sub-1")
    assert status == "failed"
    assert "Not sent within 30 minutes" in reason
    assert reply_stats(redis_client, "signal")["failed"] == 1
    assert sandbox.messages(channel="signal") == []


def test_a_reply_job_from_before_the_upgrade_is_sent_and_forgets_its_text(
    redis_client, sandbox, start_worker
):
    # Jobs enqueued by the previous version carry the recipient and the text themselves.
    publish(redis_client, sandbox)
    queue = Queue(keys.QUEUE_LOW, connection=redis_client, serializer=JSONSerializer)
    queue.enqueue(
        replies.SEND_REPLY,
        "welcome-sub-1",
        person("telegram").to_list(),
        WELCOME,
        0,
        job_id=replies.reply_job_id("welcome-sub-1"),
    )
    start_worker()
    wait_until(lambda: settled(redis_client, "welcome-sub-1"), message="reply")
    assert state(redis_client, "welcome-sub-1")[0] == "sent"
    assert [m["text"] for m in sandbox.messages(channel="telegram")] == [WELCOME]
    assert not redis_client.exists(replies.content_key("welcome-sub-1"))


def test_a_dead_workers_claim_is_taken_over_after_its_lease(
    redis_client, sandbox, start_worker
):
    publish(redis_client, sandbox)
    key = replies.reply_key("welcome-sub-1")
    # A worker died mid-send long ago; and another claim is still young (someone is sending).
    redis_client.set(
        key, f"c:dead@1 {time.time() - replies.CLAIM_LEASE_SECONDS - 5:.3f}"
    )
    young = f"c:busy@2 {time.time():.3f}"
    redis_client.set(replies.reply_key("welcome-sub-2"), young)
    replies.enqueue_reply(redis_client, "welcome-sub-1", person("telegram"), WELCOME)
    replies.enqueue_reply(
        redis_client, "welcome-sub-2", person("telegram", 2, "1002"), WELCOME
    )
    start_worker()
    wait_until(lambda: settled(redis_client, "welcome-sub-1"), message="takeover")
    assert reply_stats(redis_client, "telegram")["resent"] == 1
    time.sleep(1.5)
    assert redis_client.get(replies.reply_key("welcome-sub-2")).decode() == young
    assert sandbox.messages(channel="telegram", recipient="1002") == []


def test_blocked_telegram_chat_is_gone(redis_client, sandbox, start_worker):
    sandbox.configure(telegram={"blocked": ["1001"]})
    publish(redis_client, sandbox)
    replies.enqueue_reply(redis_client, "welcome-sub-1", person("telegram"), WELCOME)
    start_worker()
    wait_until(lambda: settled(redis_client, "welcome-sub-1"), message="reply")
    status, reason = state(redis_client, "welcome-sub-1")
    assert status == "gone"
    assert "blocked" in reason
    gone = json.loads(redis_client.hget(GONE_KEY, "telegram:sub-1"))
    assert set(gone) >= {"reason", "post", "at"}
    assert gone["reply"] == "welcome-sub-1"
    assert "blocked" in gone["reason"]
    assert reply_stats(redis_client, "telegram")["gone"] == 1
    assert sandbox.messages(channel="telegram") == []


def test_server_errors_are_retried_until_sent(redis_client, sandbox, start_worker):
    sandbox.configure(threema={"error_rate": 1.0})
    publish(redis_client, sandbox)
    replies.enqueue_reply(redis_client, "welcome-sub-1", person("threema"), WELCOME)
    start_worker()
    wait_until(
        lambda: sandbox.stats()["threema"]["injected_errors"] >= 2, message="two 5xx"
    )
    assert state(redis_client, "welcome-sub-1")[0] in ("retrying", "claimed")
    sandbox.configure(threema={"error_rate": 0.0})
    wait_until(
        lambda: settled(redis_client, "welcome-sub-1"), message="sent after retries"
    )
    assert state(redis_client, "welcome-sub-1")[0] == "sent"
    counts = reply_stats(redis_client, "threema")
    assert counts["sent"] == 1
    assert counts["retrying"] == 0
    assert len(sandbox.messages(channel="threema")) == 1


def test_attempts_are_limited(redis_client, sandbox, start_worker):
    sandbox.configure(signal={"error_rate": 1.0})
    publish(redis_client, sandbox, attempts=2)
    replies.enqueue_reply(redis_client, "welcome-sub-1", person("signal"), WELCOME)
    start_worker()
    wait_until(lambda: settled(redis_client, "welcome-sub-1"), message="giving up")
    status, reason = state(redis_client, "welcome-sub-1")
    assert status == "failed"
    assert reason.startswith("Gave up after 2 attempts")
    counts = reply_stats(redis_client, "signal")
    assert (counts["failed"], counts["retrying"]) == (1, 0)
    assert "Gave up" in counts["last_error"]


def test_closed_whatsapp_window_fails_with_reason(redis_client, sandbox, start_worker):
    publish(redis_client, sandbox)
    replies.enqueue_reply(redis_client, "welcome-sub-1", person("whatsapp"), WELCOME)
    start_worker()
    wait_until(lambda: settled(redis_client, "welcome-sub-1"), message="reply")
    status, reason = state(redis_client, "welcome-sub-1")
    assert status == "failed"
    assert "24-hour service window" in reason
    assert reply_stats(redis_client, "whatsapp")["failed"] == 1


def test_switched_off_channel_fails_the_reply(redis_client, sandbox, start_worker):
    document = dict(sandbox.settings_document(), **FAST)
    document["channels"]["signal"]["enabled"] = False
    settings.publish(redis_client, document)
    replies.enqueue_reply(redis_client, "welcome-sub-1", person("signal"), WELCOME)
    start_worker()
    wait_until(lambda: settled(redis_client, "welcome-sub-1"), message="reply")
    assert "switched off" in state(redis_client, "welcome-sub-1")[1]
    assert sandbox.messages(channel="signal") == []


def test_bad_token_pauses_and_the_reply_goes_out_after_new_settings(
    redis_client, sandbox, start_worker
):
    sandbox.configure(telegram={"bad_token": True})
    publish(redis_client, sandbox)
    replies.enqueue_reply(redis_client, "welcome-sub-1", person("telegram"), WELCOME)
    start_worker()
    pause = wait_until(
        lambda: ChannelPauses(redis_client).all().get("telegram"), message="pause"
    )
    assert "token" in pause["reason"].lower()
    time.sleep(2.5)  # rescheduled, not failed
    assert state(redis_client, "welcome-sub-1")[0] == "unknown"
    assert reply_stats(redis_client, "telegram").get("failed", 0) == 0
    # The admin fixes the token: new settings lift the pause and the reply goes out.
    sandbox.configure(telegram={"bad_token": False})
    publish(redis_client, sandbox)
    wait_until(lambda: settled(redis_client, "welcome-sub-1"), message="resume")
    assert state(redis_client, "welcome-sub-1")[0] == "sent"
    assert [m["text"] for m in sandbox.messages(channel="telegram")] == [WELCOME]


@pytest.mark.timeout(120)
def test_replies_share_the_rate_bucket_with_posts(redis_client, sandbox, start_worker):
    rate = 20
    sandbox.configure(telegram={"rate_limit": rate, "burst": 4})
    publish(redis_client, sandbox, rates={"telegram": rate})
    post = Post(
        id="p1",
        content_uid="uid-1",
        kind="news",
        title="Stadtfest",
        url="https://musterstadt.de/stadtfest",
        teaser="Am Samstag.",
        templates={"default": "{title}\n\n{url}"},
    )
    people = [Recipient(f"telegram-{n}", "telegram", str(n)) for n in range(1000, 1060)]
    fanout.enqueue_post(redis_client, post, people, {"telegram": rate}, batch_size=60)
    for n in range(20):
        replies.enqueue_reply(
            redis_client,
            f"welcome-r{n}",
            person("telegram", f"r{n}", str(2000 + n)),
            f"Willkommen {n}",
        )
    start_worker()
    start_worker()

    def finished():
        s = read_post_stats(redis_client, "p1").get("telegram", {})
        return (
            s.get("sent", 0) == 60
            and reply_stats(redis_client, "telegram").get("sent", 0) == 20
        )

    wait_until(finished, timeout=60, message="post and replies")
    assert sandbox.stats()["telegram"]["rate_limited"] == 0
    sent = sandbox.messages(channel="telegram")
    assert len(sent) == 80
    times = sorted(m["time"] for m in sent)
    # Never more than the rate (plus the burst the platform allows) in any second.
    busiest = max(
        sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times)
    )
    assert busiest <= rate + 4
    assert (times[-1] - times[0]) >= (80 - 4) / rate * 0.95
    # Replies went out while the post was being sent: they really shared the bucket.
    post_times = [m["time"] for m in sent if int(m["recipient"]) < 2000]
    reply_times = [m["time"] for m in sent if int(m["recipient"]) >= 2000]
    assert any(min(post_times) < t < max(post_times) for t in reply_times)


@pytest.mark.timeout(300)
def test_worker_killed_mid_send_sends_at_most_once_more(
    redis_client, sandbox, start_worker
):
    # The platform takes its time to answer: the worker is killed after the message went out
    # and before it could book it.
    sandbox.configure(telegram={"latency_ms": 3000})
    publish(redis_client, sandbox)
    replies.enqueue_reply(redis_client, "welcome-sub-1", person("telegram"), WELCOME)
    victim = start_worker()
    wait_until(lambda: sandbox.messages(channel="telegram"), message="first send")
    victim.kill()
    assert state(redis_client, "welcome-sub-1")[0] == "claimed"
    sandbox.configure(telegram={"latency_ms": 0})
    start_worker()
    # Worker B takes the abandoned job up (seconds), the claim's lease runs out, the reply goes again.
    wait_until(
        lambda: settled(redis_client, "welcome-sub-1"), timeout=240, message="recovery"
    )
    assert state(redis_client, "welcome-sub-1")[0] == "sent"
    assert len(sandbox.messages(channel="telegram")) == 2
    counts = reply_stats(redis_client, "telegram")
    assert (counts["sent"], counts["resent"]) == (1, 1)
