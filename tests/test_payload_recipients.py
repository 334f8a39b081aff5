"""A malformed recipient row: the error says what is wrong, never the address in it.

The message of a failed batch job is kept in Redis (RQ's ``exc_info``) for a week and shown
on the dashboard, so the number must not be part of it; a real worker runs such a batch.
"""

import pytest
from conftest import wait_until
from delivery_support import make_post
from delivery_support import publish
from redis_scan import keys_holding
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from messenger_worker import keys
from messenger_worker import redaction
from messenger_worker.fanout import DELIVER_BATCH
from messenger_worker.ledger import post_key
from messenger_worker.payload import PayloadError
from messenger_worker.payload import Recipient

NUMBER = "+4915112345678"


@pytest.mark.parametrize(
    "row, reason",
    [
        (
            ["sub-1", "signal", NUMBER],
            "A recipient is a list [subscriber_id, channel, address, language]; "
            "one has 3 values instead of 4.",
        ),
        (["sub-1", "signal", NUMBER, "de", "urgent"], "one has 5 values instead of 4."),
        (
            NUMBER,
            "A recipient is a list [subscriber_id, channel, address, language], not a str.",
        ),
        ({"subscriber_id": "sub-1", "address": NUMBER}, "not a dict."),
        (None, "not null."),
        (
            [None, "signal", NUMBER, "de"],
            "A recipient's subscriber_id must be text or a number, not null.",
        ),
        (
            ["sub-1", None, NUMBER, "de"],
            "Recipient of subscriber sub-1: the channel must be text, not null.",
        ),
        (
            ["sub-1", "signal", {"number": NUMBER}, "de"],
            "Recipient of subscriber sub-1: the address must be text or a number, not a dict.",
        ),
        (
            ["sub-1", "signal", [NUMBER], "de"],
            "Recipient of subscriber sub-1: the address must be text or a number, not a list.",
        ),
    ],
)
def test_malformed_row_is_refused_without_its_address(row, reason):
    with pytest.raises(PayloadError) as refused:
        Recipient.from_list(row)
    message = str(refused.value)
    assert reason in message
    assert NUMBER not in message and NUMBER.lstrip("+") not in message


def test_well_formed_rows_are_read():
    assert Recipient.from_list(["sub-1", "signal", NUMBER, "de"]) == Recipient(
        "sub-1", "signal", NUMBER, "de"
    )
    # Telegram chat ids may travel as numbers.
    assert Recipient.from_list(("sub-2", "telegram", 1001, "en")).address == "1001"


@pytest.mark.timeout(120)
def test_a_failed_batch_keeps_no_number_of_its_malformed_row(
    redis_client, sandbox, start_worker
):
    publish(redis_client, sandbox)
    redis_client.set(
        post_key("p1"), make_post().to_json(), ex=3600
    )  # the batch's post is there
    rows = [["sub-1", "signal", "+4915100000001", "de"], ["sub-2", "signal", NUMBER]]
    Queue(
        keys.QUEUE_DEFAULT, connection=redis_client, serializer=JSONSerializer
    ).enqueue(
        DELIVER_BATCH,
        "p1",
        "signal",
        rows,
        0,
        job_id="msg-p1-signal-0",
        description="Malformed batch",
        failure_ttl=3600,
    )
    start_worker()
    failed = FailedJobRegistry(
        keys.QUEUE_DEFAULT, connection=redis_client, serializer=JSONSerializer
    )
    wait_until(
        lambda: failed.get_job_ids() == ["msg-p1-signal-0"], message="the failed batch"
    )
    job = Job.fetch(
        "msg-p1-signal-0", connection=redis_client, serializer=JSONSerializer
    )
    wait_until(
        lambda: job.get_meta(refresh=True).get(redaction.REDACTED), message="redaction"
    )
    assert "one has 3 values instead of 4" in job.latest_result().exc_string
    # The well-formed row keeps its subscriber id for a retry; the malformed one is gone.
    job = Job.fetch(
        "msg-p1-signal-0", connection=redis_client, serializer=JSONSerializer
    )
    assert job.args[2] == [["sub-1", "signal", "", "de"]]
    numbers = ("+4915100000001", "4915100000001", NUMBER, NUMBER.lstrip("+"))
    assert keys_holding(redis_client, *numbers) == {}
    assert sandbox.messages(channel="signal") == []
