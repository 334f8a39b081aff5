"""Publishing through Zope's publisher: ConflictError retries, Redis down, a real worker and sandbox."""

import os

import pytest
import requests
import transaction
from conftest import conflict_on_first_attempt
from conftest import PASSWORD
from conftest import wait_until
from plone import api
from status_support import news
from status_support import prepare
from status_support import subscribe

from collective.messenger.demo.sandbox import use_sandbox
from collective.messenger.publishing import dispatch
from collective.messenger.publishing.outbox import get_outbox
from messenger_worker.connection import REDIS_URL_VARIABLE
from messenger_worker.ledger import read_stats


@pytest.fixture
def portal(acceptance, live_site):
    return prepare(acceptance["portal"])


def transition(live_site, item, name):
    return requests.post(
        f"{live_site}/{item.getId()}/@workflow/{name}",
        headers={"Accept": "application/json", "Content-Type": "application/json"},
        auth=("manager", PASSWORD),
        json={},
        timeout=30,
    )


def test_conflict_error_retry_of_the_publish_request_makes_one_post(
    portal, live_site, plone_redis
):
    subscribe([1001, 1002])
    item = news(portal)
    with conflict_on_first_attempt(
        lambda path: "@workflow/publish" in path
    ) as attempts:
        response = transition(live_site, item, "publish")
    assert response.status_code == 200, response.text
    assert attempts == [0, 1]
    transaction.begin()  # see what the server committed
    entries = get_outbox().entries_for(item.UID())
    assert [e.post_id for e in entries] == [f"{item.UID()}-1"]
    posts = [k for k in plone_redis.keys("messenger:post:*") if k.count(b":") == 2]
    assert posts == [f"messenger:post:{item.UID()}-1".encode()]
    assert read_stats(plone_redis, entries[0].post_id)["telegram"]["queued"] == 2


def test_redis_down_nothing_lost_nothing_doubled(
    portal, live_site, plone_redis, sandbox, plone_worker
):
    use_sandbox(sandbox.url, channels=("telegram",))
    transaction.commit()
    subscribe(range(3001, 3021))
    item = news(portal)
    real_url = os.environ[REDIS_URL_VARIABLE]
    os.environ[REDIS_URL_VARIABLE] = (
        "redis://127.0.0.1:9/0"  # the server thread reads it too
    )
    try:
        response = transition(live_site, item, "publish")
        assert response.status_code == 200, (
            response.text
        )  # the editor's transition succeeds
    finally:
        os.environ[REDIS_URL_VARIABLE] = real_url
    transaction.begin()
    assert api.content.get_state(item) == "published"
    [entry] = get_outbox().entries_for(item.UID())
    assert dispatch.live_state(entry) == "waiting"

    response = requests.post(
        f"{live_site}/@messenger-dispatch",
        headers={"Accept": "application/json"},
        auth=("siteadmin", PASSWORD),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["dispatched"] == 1
    # A second drain and a second worker change nothing: every citizen gets the post once.
    assert (
        requests.post(
            f"{live_site}/@messenger-dispatch",
            headers={"Accept": "application/json"},
            auth=("siteadmin", PASSWORD),
            timeout=30,
        ).json()["dispatched"]
        == 0
    )
    plone_worker()
    plone_worker()
    wait_until(
        lambda: (
            read_stats(plone_redis, entry.post_id).get("telegram", {}).get("sent", 0)
            >= 20
        ),
        timeout=60,
        message="delivery",
    )
    received = sandbox.messages(channel="telegram")
    assert sorted(m["recipient"] for m in received) == [
        str(n) for n in range(3001, 3021)
    ]
    assert all(item.Title() in m["text"] for m in received)


def test_dispatch_needs_manage_messenger(portal, live_site):
    for user in ("editor", "member"):
        response = requests.post(
            f"{live_site}/@messenger-dispatch",
            headers={"Accept": "application/json"},
            auth=(user, PASSWORD),
            timeout=30,
        )
        assert response.status_code == 401, user
