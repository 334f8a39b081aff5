"""A batch that failed for good keeps no addresses; the dashboard's Retry looks them up again.

Real Plone (functional layer), real subscriber store, real Redis, the job code run by RQ's
SimpleWorker in this process, and the worker's own redaction.
"""

import lxml.html
import transaction
from conftest import browser_for
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer
from status_support import prepare
from status_support import run_worker
from status_support import subscribe

from messenger_worker import keys
from messenger_worker import redaction
from messenger_worker.fanout import DELIVER_BATCH
from messenger_worker.ledger import post_key
from messenger_worker.payload import Post

JOB_ID = "msg-p9-telegram-0"


def failed_ids(connection):
    return FailedJobRegistry(
        keys.QUEUE_DEFAULT, connection=connection, serializer=JSONSerializer
    ).get_job_ids()


def fetch(connection):
    return Job.fetch(JOB_ID, connection=connection, serializer=JSONSerializer)


def test_retry_of_a_redacted_batch_sends_to_those_still_subscribed(
    site, sandbox, plone_redis
):
    prepare(site, sandbox, channels=("telegram",))
    staying, other, leaving = subscribe(["7001", "7002", "7003"])
    from collective.messenger.subscribers import get_store

    store = get_store()
    store.unsubscribe(store.get(leaving.id))
    transaction.commit()
    rows = [
        [s.id, "telegram", address, "de"]
        for s, address in ((staying, "7001"), (other, "7002"), (leaving, "7003"))
    ]
    # The post's snapshot is missing: the batch fails for good (no RQ retries here).
    Queue(
        keys.QUEUE_DEFAULT, connection=plone_redis, serializer=JSONSerializer
    ).enqueue(
        DELIVER_BATCH,
        "p9",
        "telegram",
        rows,
        0,
        job_id=JOB_ID,
        description="Vollsperrung (telegram 1)",
        failure_ttl=3600,
    )
    run_worker(plone_redis)
    assert failed_ids(plone_redis) == [JOB_ID]
    assert (
        redaction.redact_failed_jobs(plone_redis) == 1
    )  # as the workers' maintenance does
    assert redaction.redact_failed_jobs(plone_redis) == 0  # once is enough
    assert fetch(plone_redis).args[2] == [
        [s.id, "telegram", "", "de"] for s in (staying, other, leaving)
    ]

    browser = browser_for(site, "siteadmin")
    browser.open(site.absolute_url() + "/@@messenger-dashboard")
    forms = lxml.html.fromstring(browser.contents).xpath("//form")
    index = next(
        i
        for i, form in enumerate(forms)
        if form.xpath(f'.//input[@name="job_id"][@value="{JOB_ID}"]')
    )
    browser.getForm(index=index).getControl(name="form.buttons.retry").click()
    assert f"The job {JOB_ID} is back on its queue." in browser.contents

    job = fetch(plone_redis)
    assert job.args[2] == [
        [staying.id, "telegram", "7001", "de"],
        [other.id, "telegram", "7002", "de"],
    ]
    assert not job.meta[redaction.REDACTED]

    # The cause is gone (the snapshot is back): the retried batch reaches those still subscribed.
    post = Post(
        id="p9",
        content_uid="uid-9",
        kind="news",
        title="Vollsperrung",
        url="http://x/a",
    )
    plone_redis.set(post_key("p9"), post.to_json())
    run_worker(plone_redis)
    assert sorted(m["recipient"] for m in sandbox.messages(channel="telegram")) == [
        "7001",
        "7002",
    ]
