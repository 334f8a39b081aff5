"""``@@messenger-dashboard``: failed jobs of the real queues, listed and retried by admins only.

The failed jobs are real: a batch job whose post snapshot is not in Redis, run by an RQ
worker in this process, fails with the worker's own RuntimeError.
"""

import lxml.html
import pytest
import transaction
from conftest import browser_for
from rest_support import configure
from rq import Queue
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer
from status_support import failing_batch
from status_support import run_worker

from messenger_worker import keys
from messenger_worker.ledger import post_key
from messenger_worker.payload import Post


def failed_ids(connection, queue=keys.QUEUE_DEFAULT):
    return FailedJobRegistry(
        queue, connection=connection, serializer=JSONSerializer
    ).get_job_ids()


@pytest.fixture
def failed(site, plone_redis):
    """Telegram configured and published, two failed batches in two queues."""
    configure(site, channels=("telegram",))
    transaction.commit()
    first = failing_batch(plone_redis, "p1")
    second = failing_batch(
        plone_redis, "p2", queue=keys.QUEUE_HIGH, title="Unwetterwarnung"
    )
    run_worker(plone_redis)
    assert failed_ids(plone_redis) == [first]
    assert failed_ids(plone_redis, keys.QUEUE_HIGH) == [second]
    return first, second


def dashboard_url(site):
    return site.absolute_url() + "/@@messenger-dashboard"


def open_dashboard(site, user="siteadmin"):
    browser = browser_for(site, user)
    browser.handleErrors = True  # refusals as Plone's error pages and status codes
    browser.open(dashboard_url(site))
    return browser


def job_row(browser, job_id):
    rows = lxml.html.fromstring(browser.contents).xpath(
        f'//tr[@data-job-id="{job_id}"]'
    )
    return rows[0] if rows else None


def retry_form(browser, job_id):
    """The "Retry" form of ``job_id`` on the page."""
    forms = lxml.html.fromstring(browser.contents).xpath("//form")
    for index, form in enumerate(forms):
        if form.xpath(f'.//input[@name="job_id"][@value="{job_id}"]'):
            return browser.getForm(index=index)
    raise AssertionError(f"No retry form for {job_id}")


def test_failed_jobs_listed_with_error_and_time(site, failed, plone_redis):
    first, second = failed
    browser = open_dashboard(site)
    assert browser.headers["status"].startswith("200")
    row = job_row(browser, first)
    assert row is not None
    text = " ".join(row.text_content().split())
    assert "Vollsperrung Hauptstraße (telegram 1)" in text
    assert "RuntimeError: The snapshot of post p1 is not in Redis (expired?)." in text
    assert "messenger" in text
    assert "Traceback" not in browser.contents  # the last line only
    assert job_row(browser, second) is not None
    assert "Shown: the newest 2 of 2." in " ".join(browser.contents.split())


def test_retry_puts_job_back_and_it_runs(site, failed, plone_redis):
    first, second = failed
    browser = open_dashboard(site)
    retry_form(browser, first).getControl(name="form.buttons.retry").click()
    assert "The job msg-p1-telegram-0 is back on its queue." in browser.contents
    assert first not in failed_ids(plone_redis)
    assert Queue(keys.QUEUE_DEFAULT, connection=plone_redis).job_ids == [first]
    assert failed_ids(plone_redis, keys.QUEUE_HIGH) == [second]  # the other one stays
    assert job_row(browser, first) is None

    # The cause is gone now (the snapshot is back): the retried job succeeds.
    post = Post(
        id="p1",
        content_uid="uid-1",
        kind="news",
        title="Vollsperrung",
        url="http://x/a",
    )
    plone_redis.set(post_key("p1"), post.to_json())
    run_worker(plone_redis)
    assert first not in failed_ids(plone_redis)
    assert Queue(keys.QUEUE_DEFAULT, connection=plone_redis).job_ids == []


def test_retry_all(site, failed, plone_redis):
    browser = open_dashboard(site, "manager")
    browser.getControl(name="form.buttons.retry_all").click()
    assert "Failed jobs put back on their queues: 2." in browser.contents
    assert (
        failed_ids(plone_redis) == [] and failed_ids(plone_redis, keys.QUEUE_HIGH) == []
    )
    assert "No job has failed." in browser.contents
    assert Queue(keys.QUEUE_HIGH, connection=plone_redis).job_ids == [failed[1]]


def test_retry_of_a_job_no_longer_failed(site, failed, plone_redis):
    browser = open_dashboard(site)
    form = retry_form(browser, failed[0])
    FailedJobRegistry(
        keys.QUEUE_DEFAULT, connection=plone_redis, serializer=JSONSerializer
    ).requeue(failed[0])
    FailedJobRegistry(
        keys.QUEUE_HIGH, connection=plone_redis, serializer=JSONSerializer
    ).requeue(failed[1])
    form.getControl(name="form.buttons.retry").click()
    assert browser.headers["status"].startswith("200")
    assert "This job is not in the list of failed jobs (any more)" in browser.contents


def authenticator(browser):
    return lxml.html.fromstring(browser.contents).xpath(
        '//input[@name="_authenticator"]/@value'
    )[0]


def test_retry_without_authenticator_is_refused(site, failed, plone_redis):
    browser = open_dashboard(site)
    browser.post(dashboard_url(site), "form.buttons.retry_all=1")
    assert browser.headers["status"].startswith("403")
    assert failed_ids(plone_redis) == [failed[0]]


@pytest.mark.parametrize("user", [None, "member", "editor", "reviewer"])
def test_only_admins_see_and_retry(site, failed, plone_redis, user):
    browser = open_dashboard(site, user)
    assert failed[0] not in browser.contents
    assert "Failed jobs" not in browser.contents
    # A forged POST with an admin's token is still refused for these users.
    admin = open_dashboard(site)
    token = authenticator(admin)
    browser.post(
        dashboard_url(site), f"_authenticator={token}&form.buttons.retry_all=1"
    )
    assert failed_ids(plone_redis) == [failed[0]]
    assert failed_ids(plone_redis, keys.QUEUE_HIGH) == [failed[1]]


def test_dashboard_without_redis(site, monkeypatch):
    from messenger_worker.testing import free_port

    monkeypatch.setenv("MESSENGER_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    browser = open_dashboard(site)
    assert browser.headers["status"].startswith("200")
    assert "is not reachable" in browser.contents
    browser.post(dashboard_url(site), "")  # no token: refused before touching Redis
    assert browser.headers["status"].startswith("403")


def test_linked_from_control_panel(site):
    browser = browser_for(site, "siteadmin")
    browser.open(site.absolute_url() + "/@@messenger-controlpanel")
    link = browser.getLink(id="messenger-dashboard-link")
    link.click()
    assert browser.url.endswith("/@@messenger-dashboard")
    assert "Messenger delivery" in browser.contents
