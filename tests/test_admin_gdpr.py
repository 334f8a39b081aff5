"""``@@messenger-subscriber-data``: find one subscriber by exact address, export, delete (GDPR)."""

import logging

import lxml.html
import pytest
import requests
import transaction
from conftest import PASSWORD
from test_admin_view import is_refused
from test_admin_view import populate
from test_admin_view import SIGNAL_ACTIVE
from test_admin_view import SIGNAL_PENDING
from test_admin_view import TELEGRAM_ACTIVE
from test_admin_view import TELEGRAM_LEFT
from test_admin_view import WHATSAPP_GONE

from collective.messenger.subscribers import get_store


@pytest.fixture
def ids(live_site, acceptance):
    return populate(acceptance["portal"])


@pytest.fixture
def data_url(live_site):
    return f"{live_site}/@@messenger-subscriber-data"


def authenticator(url, user):
    page = requests.get(url, auth=(user, PASSWORD), timeout=30)
    return (
        lxml.html
        .fromstring(page.text)
        .cssselect("input[name='_authenticator']")[0]
        .get("value")
    )


def post(url, user, token=None, **form):
    if token is not None:
        form["_authenticator"] = token
    return requests.post(
        url, data=form, auth=(user, PASSWORD), timeout=30, allow_redirects=False
    )


def lookup(url, channel, address, user="siteadmin"):
    return post(
        url,
        user,
        authenticator(url, user),
        channel=channel,
        address=address,
        **{"form.buttons.lookup": "1"},
    )


def found_ids(response):
    page = lxml.html.fromstring(response.text)
    return [
        code.text_content() for code in page.cssselect(".messenger-subscriber h3 code")
    ]


def store_now(acceptance):
    transaction.begin()  # see what the server committed
    return get_store(acceptance["portal"])


def test_lookup_by_number_as_typed(data_url, ids):
    response = lookup(data_url, "signal", "0151 12345678")
    assert response.status_code == 200
    assert found_ids(response) == [ids["signal"]]
    page = lxml.html.fromstring(response.text)
    assert [a.text_content() for a in page.cssselect(".messenger-address")] == [
        SIGNAL_ACTIVE
    ]
    text = page.cssselect("#messenger-lookup-results")[0].text_content()
    assert "Veranstaltungen" in text
    assert "abc123, portlet" in text  # the consent record
    # The result shows this person only, and never a token.
    for other in (TELEGRAM_ACTIVE, TELEGRAM_LEFT, WHATSAPP_GONE, SIGNAL_PENDING):
        assert other not in response.text


def test_lookup_finds_pending_and_other_states(data_url, ids, acceptance):
    response = lookup(data_url, "signal", "+49 151 99988877")
    assert found_ids(response) == [ids["pending_signal"]]
    assert "Expires unconfirmed" in response.text
    assert found_ids(lookup(data_url, "telegram", f" {TELEGRAM_LEFT} ")) == [
        ids["left"]
    ]
    # WhatsApp stores the wa_id without "+"; the admin types the number as people write it.
    assert found_ids(lookup(data_url, "whatsapp", "+49 176 12345678")) == [ids["gone"]]
    manage_token = store_now(acceptance).get(ids["left"]).manage_token
    assert manage_token not in lookup(data_url, "telegram", TELEGRAM_LEFT).text


def test_lookup_of_nobody(data_url, ids):
    response = lookup(data_url, "threema", "ABCD1234", user="manager")
    assert response.status_code == 200
    assert found_ids(response) == []
    assert "Nobody with this address is stored for this messenger." in response.text
    # The same number on another messenger is another person's record, or nobody's.
    assert found_ids(lookup(data_url, "whatsapp", SIGNAL_ACTIVE)) == []


@pytest.mark.parametrize(
    "channel, address, message",
    [
        ("telegram", "@someone", "A Telegram address is the chat id"),
        ("signal", "12", "This is not a valid mobile number."),
        ("signal", "", "Please enter an address."),
        ("nosuch", "123", "Please choose a messenger."),
        ("threema", "x" * 65, "This address is too long."),
    ],
)
def test_bad_input_is_400_with_a_message(data_url, ids, channel, address, message):
    response = lookup(data_url, channel, address)
    assert response.status_code == 400
    error = lxml.html.fromstring(response.text).cssselect("#messenger-lookup-error")[0]
    assert message in error.text_content()


def test_export_json(data_url, ids, acceptance, caplog):
    caplog.set_level(logging.INFO, logger="collective.messenger.admin")
    token = authenticator(data_url, "siteadmin")
    response = post(
        data_url,
        "siteadmin",
        token,
        subscriber=ids["active"],
        **{"form.buttons.export": "1"},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="messenger-subscriber-{ids["active"]}.json"'
    )
    document = response.json()
    record = document["subscriber"]
    assert record["id"] == ids["active"]
    assert record["address"] == TELEGRAM_ACTIVE
    assert record["state"] == "active"
    assert record["topics"] == [
        {"id": "baustellen-verkehr", "title": "Baustellen & Verkehr"},
        {"id": "warnungen", "title": "Warnungen"},
    ]
    assert record["consent"]["privacy_version"] == "abc123"
    assert record["consent"]["path"] == "portlet"
    assert record["consent"]["given_at"].startswith(record["created"][:10])
    assert record["confirmed"] and record["unsubscribed"] is None
    assert set(record) >= {"mode", "language", "created", "changed", "channel"}
    assert "secret link" in document["notes"][0]
    assert document["site"].endswith("/plone")
    subscriber = store_now(acceptance).get(ids["active"])
    assert subscriber.manage_token not in response.text
    logged = [
        r.getMessage() for r in caplog.records if r.name == "collective.messenger.admin"
    ]
    assert f"Data of subscriber {ids['active']} exported by siteadmin" in logged
    assert not any(TELEGRAM_ACTIVE in line for line in logged)


def test_export_of_a_pending_signup_names_but_omits_its_secrets(
    data_url, ids, acceptance
):
    token = authenticator(data_url, "manager")
    response = post(
        data_url,
        "manager",
        token,
        subscriber=ids["pending_signal"],
        **{"form.buttons.export": "1"},
    )
    record = response.json()["subscriber"]
    assert record["state"] == "pending" and record["address"] == SIGNAL_PENDING
    assert record["confirm_expires"]
    pending = store_now(acceptance).get(ids["pending_signal"])
    assert pending.confirm_token not in response.text
    assert "not confirmed" in response.json()["notes"][1]


def test_delete_with_confirmation(data_url, ids, acceptance, live_site, caplog):
    caplog.set_level(logging.INFO, logger="collective.messenger.admin")
    token = authenticator(data_url, "siteadmin")
    asked = post(
        data_url,
        "siteadmin",
        token,
        subscriber=ids["signal"],
        **{"form.buttons.delete": "1"},
    )
    assert asked.status_code == 200
    confirm = lxml.html.fromstring(asked.text).cssselect("#messenger-confirm-delete")[0]
    assert SIGNAL_ACTIVE in confirm.text_content()
    assert confirm.cssselect("button[name='form.buttons.confirm_delete']")
    assert (
        store_now(acceptance).get(ids["signal"]) is not None
    )  # asking deletes nothing

    cancelled = post(
        data_url,
        "siteadmin",
        token,
        subscriber=ids["signal"],
        **{"form.buttons.cancel": "1"},
    )
    assert cancelled.status_code == 303
    assert store_now(acceptance).get(ids["signal"]) is not None

    done = post(
        data_url,
        "siteadmin",
        token,
        subscriber=ids["signal"],
        **{"form.buttons.confirm_delete": "1"},
    )
    assert done.status_code == 303
    assert done.headers["Location"] == f"{live_site}/@@messenger-subscribers"
    store = store_now(acceptance)
    assert store.get(ids["signal"]) is None
    assert store.by_address("signal", SIGNAL_ACTIVE) is None
    assert store.counts()["channels"]["signal"]["active"] == 0
    assert store.check() == []
    logged = [
        r.getMessage() for r in caplog.records if r.name == "collective.messenger.admin"
    ]
    line = f"Subscriber {ids['signal']} (signal, active) deleted by siteadmin (erasure request)"
    assert line in logged
    assert not any(SIGNAL_ACTIVE in line or "15112345678" in line for line in logged)

    again = post(
        data_url,
        "siteadmin",
        token,
        subscriber=ids["signal"],
        **{"form.buttons.confirm_delete": "1"},
    )
    assert again.status_code == 404
    assert "does not exist (any more)" in again.text


def test_deleting_a_pending_signup(data_url, ids, acceptance):
    token = authenticator(data_url, "manager")
    done = post(
        data_url,
        "manager",
        token,
        subscriber=ids["pending_signal"],
        **{"form.buttons.confirm_delete": "1"},
    )
    assert done.status_code == 303
    store = store_now(acceptance)
    assert store.get(ids["pending_signal"]) is None
    assert store.counts()["states"]["pending"] == 1
    assert store.check() == []


@pytest.mark.parametrize("token", [None, "forged"])
def test_csrf_refused(data_url, ids, acceptance, token):
    for button in ("form.buttons.confirm_delete", "form.buttons.export"):
        response = post(
            data_url, "siteadmin", token, subscriber=ids["signal"], **{button: "1"}
        )
        assert response.status_code == 403
        assert SIGNAL_ACTIVE not in response.text
    response = post(
        data_url,
        "siteadmin",
        token,
        channel="signal",
        address=SIGNAL_ACTIVE,
        **{"form.buttons.lookup": "1"},
    )
    assert response.status_code == 403
    assert SIGNAL_ACTIVE not in response.text
    assert store_now(acceptance).get(ids["signal"]) is not None


def test_another_users_token_is_refused(data_url, ids, acceptance):
    manager_token = authenticator(data_url, "manager")
    response = post(
        data_url,
        "siteadmin",
        manager_token,
        subscriber=ids["signal"],
        **{"form.buttons.confirm_delete": "1"},
    )
    assert response.status_code == 403
    assert store_now(acceptance).get(ids["signal"]) is not None


@pytest.mark.parametrize("user", ["editor", "reviewer", "member"])
def test_only_messenger_admins(data_url, ids, acceptance, user):
    token = authenticator(data_url, "siteadmin")
    for form in (
        {"channel": "signal", "address": SIGNAL_ACTIVE, "form.buttons.lookup": "1"},
        {"subscriber": ids["signal"], "form.buttons.export": "1"},
        {"subscriber": ids["signal"], "form.buttons.confirm_delete": "1"},
    ):
        response = post(data_url, user, token, **form)
        assert is_refused(response), response.status_code
        assert SIGNAL_ACTIVE not in response.text
    assert store_now(acceptance).get(ids["signal"]) is not None


def test_get_shows_the_empty_form(data_url, ids):
    response = requests.get(
        data_url,
        auth=("manager", PASSWORD),
        timeout=30,
        params={"channel": "signal", "address": SIGNAL_ACTIVE},
    )
    assert response.status_code == 200
    # Lookups only by POST: addresses stay out of URLs and access logs.
    assert found_ids(response) == []
    assert SIGNAL_ACTIVE not in response.text
