"""After sending, Redis keeps no phone number, confirmation code or manage link.

Replies and post batches go out through a real worker process to the sandbox; then every key
of the tests' Redis is read (all types, RQ's job hashes unpacked, registries, results
streams) and none holds a number or a reply's text.
"""

import pytest
from conftest import wait_until
from delivery_support import done
from delivery_support import enqueue
from delivery_support import make_post
from delivery_support import publish
from delivery_support import reply_state
from delivery_support import stats
from redis_scan import keys_holding
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from messenger_worker import keys
from messenger_worker import redaction
from messenger_worker import replies
from messenger_worker.fanout import DELIVER_BATCH
from messenger_worker.payload import Recipient

NUMBERS = [f"+4915100{n:05d}" for n in range(1, 25)]
UNKNOWN = NUMBERS[0]  # not on Signal: gone
CODE = "Ihr Bestätigungscode für den Newsletter: 482913"
LINK = "https://musterstadt.de/@@messenger-manage?token=Zq8xY2tLmN0pQ4rS"


def secrets_of(numbers):
    # WhatsApp ids and signal-cli sometimes write numbers without the "+".
    return [form for number in numbers for form in (number, number.lstrip("+"))]


def failed_ids(connection):
    return FailedJobRegistry(
        keys.QUEUE_DEFAULT, connection=connection, serializer=JSONSerializer
    ).get_job_ids()


@pytest.mark.timeout(120)
def test_no_number_code_or_link_is_left_after_replies(
    redis_client, sandbox, start_worker
):
    sandbox.configure(signal={"unknown": [UNKNOWN]})
    publish(redis_client, sandbox)
    sent = Recipient("sub-1", "signal", NUMBERS[1])
    gone = Recipient("sub-2", "signal", UNKNOWN)
    # WhatsApp refuses free text outside the 24 h window: the reply fails.
    refused = Recipient("sub-3", "whatsapp", NUMBERS[2].lstrip("+"))
    replies.enqueue_reply(redis_client, "code-sub-1", sent, CODE)
    replies.enqueue_reply(
        redis_client, "welcome-sub-2", gone, f"Willkommen! Abmelden: {LINK}"
    )
    replies.enqueue_reply(
        redis_client, "welcome-sub-3", refused, f"Willkommen! Abmelden: {LINK}"
    )
    # While they wait, the jobs carry neither: only the short-lived content values do.
    holders = keys_holding(redis_client, *secrets_of(NUMBERS[:3]), CODE, LINK)
    assert {key for found in holders.values() for key in found} == {
        replies.content_key(reply)
        for reply in ("code-sub-1", "welcome-sub-2", "welcome-sub-3")
    }
    start_worker()
    for reply, outcome in (
        ("code-sub-1", "sent"),
        ("welcome-sub-2", "gone"),
        ("welcome-sub-3", "failed"),
    ):
        wait_until(
            lambda: reply_state(redis_client, reply)[0] == outcome, message=reply
        )
    wait_until(
        lambda: (
            Queue(keys.QUEUE_LOW, connection=redis_client).started_job_registry.count
            == 0
        ),
        message="jobs finished",
    )
    assert [m["text"] for m in sandbox.messages(channel="signal")] == [CODE]
    assert keys_holding(redis_client, *secrets_of(NUMBERS[:3]), CODE, LINK) == {}


@pytest.mark.timeout(120)
def test_no_number_is_left_after_a_post_went_out_or_failed_for_good(
    redis_client, sandbox, start_worker
):
    sandbox.configure(signal={"unknown": [UNKNOWN]})
    publish(redis_client, sandbox, rates={"signal": 1000})
    people = [
        Recipient(f"sub-{n}", "signal", number) for n, number in enumerate(NUMBERS[:20])
    ]
    enqueue(redis_client, make_post(), people, batch_size=8)
    # A batch that fails for good (its post's snapshot is not in Redis), without RQ retries.
    failing = [
        Recipient(f"sub-{n}", "signal", number)
        for n, number in enumerate(NUMBERS[20:], 20)
    ]
    Queue(
        keys.QUEUE_DEFAULT, connection=redis_client, serializer=JSONSerializer
    ).enqueue(
        DELIVER_BATCH,
        "lost",
        "signal",
        [r.to_list() for r in failing],
        0,
        job_id="msg-lost-signal-0",
        description="Lost post (signal 1)",
        failure_ttl=3600,
    )
    start_worker()
    wait_until(lambda: done(redis_client, "p1", "signal", 20), message="delivery")
    wait_until(
        lambda: failed_ids(redis_client) == ["msg-lost-signal-0"],
        message="the failed batch",
    )
    counts = stats(redis_client, "p1", "signal")
    assert (counts["sent"], counts["gone"]) == (19, 1)
    wait_until(
        lambda: not keys_holding(redis_client, *secrets_of(NUMBERS)),
        timeout=10,
        message="no number left",
    )
    # The failed batch keeps who it was for, without their numbers.
    job = Job.fetch(
        "msg-lost-signal-0", connection=redis_client, serializer=JSONSerializer
    )
    assert job.meta[redaction.REDACTED] is True
    assert job.args[2] == [[r.subscriber_id, "signal", "", r.language] for r in failing]
