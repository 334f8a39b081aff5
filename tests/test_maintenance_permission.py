"""Cron endpoints need only "collective.messenger: Run maintenance": a cron account with the
role "Messenger Cron" runs them and can do nothing else of the messenger's."""

import pytest
import requests
import transaction
from conftest import PASSWORD

CRON = "cron"


@pytest.fixture
def cron_site(live_site, acceptance):
    acceptance["portal"].acl_users.userFolderAddUser(
        CRON, PASSWORD, ["Messenger Cron"], []
    )
    transaction.commit()
    return live_site


def call(method, url, user=CRON):
    return requests.request(
        method,
        url,
        auth=(user, PASSWORD) if user else None,
        headers={"Accept": "application/json"},
        timeout=30,
    )


@pytest.mark.parametrize("endpoint", ["@messenger-maintenance", "@messenger-dispatch"])
def test_cron_account_runs_the_cron_endpoints(cron_site, plone_redis, endpoint):
    response = call("POST", f"{cron_site}/{endpoint}")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "@controlpanels/messenger"),
        ("PATCH", "@controlpanels/messenger"),
        ("GET", "@@messenger-controlpanel"),
        ("GET", "@@messenger-subscribers"),
        ("GET", "@@messenger-dashboard"),
        ("GET", "@registry/collective.messenger.telegram_api_url"),
    ],
)
def test_cron_account_can_do_nothing_else(cron_site, method, path):
    response = call(method, f"{cron_site}/{path}")
    assert response.status_code in (401, 403), (path, response.status_code)
    assert "telegram_api_url" not in response.text


@pytest.mark.parametrize("user", ["editor", "reviewer", "member", None])
def test_cron_endpoints_refused_without_the_permission(cron_site, user):
    for endpoint in ("@messenger-maintenance", "@messenger-dispatch"):
        assert call("POST", f"{cron_site}/{endpoint}", user=user).status_code == 401
