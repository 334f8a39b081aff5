"""``POST @messenger-maintenance``: cron expires pending signups older than 24 hours."""

from datetime import timedelta

import pytest
import requests
import transaction
from conftest import PASSWORD

from collective.messenger.subscribers import Consent
from collective.messenger.subscribers import get_store
from collective.messenger.subscribers.clock import utcnow

CONSENT = Consent("abc123", "page")


@pytest.fixture
def signups(live_site, acceptance):
    """A signup of 25 hours ago (expired), one of 23 hours ago and an active subscriber."""
    store = get_store(acceptance["portal"])
    now = utcnow()
    recent = store.add_pending(
        "telegram", ["warnungen"], "de", CONSENT, now=now - timedelta(hours=23)
    )
    active = store.activate(
        store.add_pending("telegram", ["warnungen"], "de", CONSENT), address="555"
    )
    # Last: a signup at "now" expires expired signups that share its token's shard.
    old = store.add_pending(
        "signal",
        ["warnungen"],
        "de",
        CONSENT,
        address="+4915112345678",
        now=now - timedelta(hours=25),
    )
    transaction.commit()
    return {"old": old.id, "recent": recent.id, "active": active.id}


def maintenance(live_site, user, method="POST"):
    return requests.request(
        method,
        f"{live_site}/@messenger-maintenance",
        auth=(user, PASSWORD) if user else None,
        headers={"Accept": "application/json"},
        timeout=30,
    )


@pytest.mark.parametrize("user", ["manager", "siteadmin"])
def test_expires_pending_signups_older_than_a_day(live_site, acceptance, signups, user):
    response = maintenance(live_site, user)
    assert response.status_code == 200, response.text
    assert response.json() == {"expired": 1, "erased": 0, "pending": 1}
    transaction.begin()
    store = get_store(acceptance["portal"])
    assert store.get(signups["old"]) is None
    assert store.get(signups["recent"]).is_pending
    assert store.get(signups["active"]).is_active
    assert (
        store.daily(since=utcnow().date())[utcnow().date().isoformat()]["expired"] == 1
    )
    assert store.check() == []
    # Nothing left to do: a second run expires nothing.
    assert maintenance(live_site, user).json() == {
        "expired": 0,
        "erased": 0,
        "pending": 1,
    }


@pytest.mark.parametrize("user", ["editor", "reviewer", "member", None])
def test_refused_for_others(live_site, acceptance, signups, user):
    response = maintenance(live_site, user)
    assert response.status_code in (401, 403)
    assert "expired" not in response.text
    transaction.begin()
    assert get_store(acceptance["portal"]).get(signups["old"]) is not None


def test_only_post(live_site, signups):
    response = maintenance(live_site, "manager", method="GET")
    assert response.status_code in (404, 405)
    assert "expired" not in response.text
