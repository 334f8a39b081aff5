"""``@messenger-subscriptions``: signup, code confirmation and managing a subscription over REST.

Real Plone over HTTP (the acceptance layer), real Redis; codes are read from the reply job
Plone queued for the worker.
"""

from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
import requests
import transaction
from conftest import conflict_on_first_attempt
from rest_support import active_signal_subscription
from rest_support import pending_subscriber
from rest_support import queued_code
from rest_support import rest_fixture  # noqa: F401  (the "rest" fixture)
from rest_support import SIGNAL_NUMBER
from rest_support import THREEMA_NUMBER
from rq import Queue
from rq.serializers import JSONSerializer
from zope.i18n import translate

from messenger_worker import keys

SERVICE = "@messenger-subscriptions"


def queued_replies(redis_client, prefix):
    queue = Queue(keys.QUEUE_LOW, connection=redis_client, serializer=JSONSerializer)
    return [job.args for job in queue.get_jobs() if job.args[0].startswith(prefix)]


def errors_of(response):
    return {
        entry["field"]: entry["message"]
        for entry in response.json()["error"].get("errors", [])
    }


# -- signup ------------------------------------------------------------------------------------


def test_telegram_signup_returns_link_qr_and_expiry(rest):
    response = rest.signup("telegram", ["baustellen-verkehr", "warnungen"])
    assert response.status_code == 201, response.text
    assert response.headers["Cache-Control"] == "no-store"
    step = response.json()
    assert step["channel"] == "telegram"
    assert step["kind"] == "link"
    assert step["link"] == f"https://t.me/musterstadt_bot?start={step['token']}"
    assert step["qr_svg"].startswith("<svg")
    assert "confirm" not in step
    expires = datetime.fromisoformat(step["expires"])
    assert (
        timedelta(hours=23)
        < expires - datetime.now(timezone.utc)
        <= timedelta(hours=24)
    )
    subscriber = pending_subscriber(rest, step["token"])
    assert subscriber.topics == ("baustellen-verkehr", "warnungen")
    assert subscriber.consent.path == "rest"
    privacy = rest.call("GET", "@messenger-topics").json()["privacy"]
    assert subscriber.consent.privacy_version == privacy["version"]
    assert "manage_token" not in step  # only after the messenger proved the address


def test_whatsapp_signup_returns_wa_me_link(rest):
    step = rest.signup("whatsapp").json()
    assert step["kind"] == "link"
    assert step["link"] == f"https://wa.me/49301234567?text=START%20{step['token']}"


def test_language_is_stored(rest):
    step = rest.signup("telegram", language="en").json()
    assert pending_subscriber(rest, step["token"]).language == "en"


def test_signal_code_flow(rest, plone_redis):
    response = rest.signup("signal", ["veranstaltungen"], phone="0151 12345689")
    assert response.status_code == 201, response.text
    step = response.json()
    assert step["kind"] == "code"
    assert step["link"] is None and step["qr_svg"] is None
    assert step["confirm"] == f"{rest.site_url}/{SERVICE}/confirm"
    assert step["sent_to"] == "+49 1511 ••• 89"
    assert SIGNAL_NUMBER not in response.text
    subscriber = pending_subscriber(rest, step["token"])
    assert subscriber.address == SIGNAL_NUMBER
    (code,) = queued_code(plone_redis, subscriber.id)

    wrong = "000000" if code != "000000" else "111111"
    response = rest.call(
        "POST", step["confirm"], json={"token": step["token"], "code": wrong}
    )
    assert response.status_code == 400
    assert "4 more attempts" in errors_of(response)["code"]
    # The wrong attempt was committed although the answer is an error.
    assert pending_subscriber(rest, step["token"]).code.attempts == 1

    response = rest.call(
        "POST", step["confirm"], json={"token": step["token"], "code": code}
    )
    assert response.status_code == 200, response.text
    confirmed = response.json()
    assert confirmed["state"] == "active"
    assert (
        confirmed["manage_url"]
        == f"{rest.site_url}/@@messenger-manage/{confirmed['manage_token']}"
    )
    assert confirmed["@id"] == f"{rest.site_url}/{SERVICE}/{confirmed['manage_token']}"
    store = rest.store()
    assert store.by_manage_token(confirmed["manage_token"]).state == "active"
    assert queued_replies(plone_redis, f"welcome-{subscriber.id}-")


def test_threema_code_flow_with_threema_id(rest, plone_redis):
    step = rest.signup("threema", phone="echoecho").json()
    assert step["kind"] == "code"
    assert "ECHOECHO" not in str(step)
    subscriber = pending_subscriber(rest, step["token"])
    assert subscriber.address == "ECHOECHO"
    (code,) = queued_code(plone_redis, subscriber.id)
    response = rest.call(
        "POST", f"{SERVICE}/confirm", json={"token": step["token"], "code": code}
    )
    assert response.status_code == 200, response.text
    data = rest.call("GET", response.json()["@id"]).json()
    assert data["channel"] == "threema"
    assert data["address"] == "EC••••HO"


def test_per_field_errors(rest):
    before = rest.store().counts()
    response = rest.call(
        "POST",
        SERVICE,
        json={"topics": [], "channel": "fax", "consent": False, "language": "Deutsch"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "ValidationError"
    assert error["message"] == "Please correct the marked fields."
    assert errors_of(response) == {
        "topics": "Please choose at least one topic.",
        "channel": "Please choose a messenger.",
        "consent": "Please agree to the privacy notice to subscribe.",
        "language": "Please choose a language such as de or en.",
    }
    assert rest.store().counts() == before


@pytest.mark.parametrize(
    "phone, expected",
    [
        (None, "Please enter your mobile number."),
        ("12", "This is not a valid mobile number."),
        ("030 1234567", "This looks like a landline number."),
    ],
)
def test_phone_errors(rest, phone, expected):
    response = rest.signup("signal", phone=phone)
    assert response.status_code == 400
    message = errors_of(response)["phone"]
    assert message.startswith(expected)
    assert (
        response.json()["error"]["message"] == message
    )  # one wrong field: its message on top


def test_consent_must_be_json_true(rest):
    response = rest.signup("telegram", consent="yes")
    assert response.status_code == 400
    assert set(errors_of(response)) == {"consent"}


def test_unknown_topic(rest):
    response = rest.signup("telegram", ["freibad"])
    assert errors_of(response) == {"topics": "Please choose from the topics offered."}


def test_errors_in_the_request_language(rest):
    from plone import api

    from collective.messenger import _

    api.portal.set_registry_record("plone.use_request_negotiation", True)
    api.portal.set_registry_record("plone.available_languages", ["de", "en"])
    transaction.commit()
    response = rest.call(
        "POST",
        SERVICE,
        json={"topics": [], "channel": "telegram", "consent": True},
        headers={"Accept-Language": "de-DE,de;q=0.9"},
    )
    assert response.status_code == 400
    message = errors_of(response)["topics"]
    english = "Please choose at least one topic."
    german = translate(_("error_topics_missing", default=english), target_language="de")
    assert german != english, "the German catalog lacks error_topics_missing"
    assert message == german


@pytest.mark.parametrize(
    "body, content_type, status, fragment",
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b"[1, 2]", "application/json", 400, "one JSON object"),
        (b'"text"', "application/json", 400, "one JSON object"),
        (b'{"consent": NaN}', "application/json", 400, "not valid JSON"),
        (b"\xff\xfe{", "application/json", 400, "not valid JSON"),
        # plone.restapi's JWT plugin would parse this one first (500): rest_body hides it.
        (b"[" * 100000, "application/json", 400, "not valid JSON"),
        (b"[" * 100000, "application/json; charset=utf-8", 400, "not valid JSON"),
        (
            b'{"channel": "telegram"}',
            "text/plain",
            400,
            "Content-Type: application/json",
        ),
        (b"channel=telegram", "application/x-www-form-urlencoded", 400, "Content-Type"),
        (
            b'{"x": "' + b"a" * (1024 * 1024) + b'"}',
            "application/json",
            413,
            "at most 1 MB",
        ),
    ],
)
def test_broken_bodies(rest, body, content_type, status, fragment):
    before = rest.store().counts()
    response = requests.post(
        rest.url(SERVICE),
        data=body,
        headers={"Accept": "application/json", "Content-Type": content_type},
        timeout=30,
    )
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]["message"]
    assert rest.store().counts() == before


def test_multipart_without_boundary(rest):
    # Zope's form parser reads options["boundary"] unchecked (KeyError, a 5xx on any URL,
    # before traversal); the add-on's WSGI filter (collective.messenger.wsgi) answers first.
    before = rest.store().counts()
    response = requests.post(
        rest.url(SERVICE),
        data=b"{}",
        headers={"Accept": "application/json", "Content-Type": "multipart/form-data"},
        timeout=30,
    )
    assert response.status_code == 400
    assert "names no boundary" in response.json()["error"]["message"]
    assert rest.store().counts() == before


def test_body_over_limit_without_content_length(rest):
    # Chunked upload: no Content-Length to refuse early, the reader stops at the limit.
    def chunks():
        yield b'{"x": "'
        for _ in range(17):
            yield b"a" * 65536
        yield b'"}'

    response = requests.post(
        rest.url(SERVICE),
        data=chunks(),
        headers={"Accept": "application/json", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413


def test_rate_limit_per_client_ip(rest):
    # X-Forwarded-For counts only from a proxy Zope trusts (trusted-proxy in zope.conf);
    # here none is, so a client cannot escape the limit by naming other addresses.
    body = {"topics": ["warnungen"], "channel": "telegram", "consent": True}
    for number in range(10):
        response = rest.call(
            "POST", SERVICE, json=body, headers={"X-Forwarded-For": f"10.0.0.{number}"}
        )
        assert response.status_code == 201, number
    before = rest.store().counts()
    response = rest.call(
        "POST", SERVICE, json=body, headers={"X-Forwarded-For": "10.0.1.1"}
    )
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    error = response.json()["error"]
    assert error["type"] == "RateLimited"
    assert "Too many signups" in error["message"]
    assert f"{response.headers['Retry-After']} seconds" in error["message"]
    assert rest.store().counts() == before


def test_rate_limit_behind_a_trusted_proxy(rest, monkeypatch):
    """With the proxy trusted (what ``trusted-proxy`` in zope.conf sets), each forwarded client
    has a budget of its own."""
    from ZPublisher import HTTPRequest

    monkeypatch.setattr(HTTPRequest, "trusted_proxies", ["127.0.0.1"])
    body = {"topics": ["warnungen"], "channel": "telegram", "consent": True}
    for _ in range(10):
        response = rest.call(
            "POST", SERVICE, json=body, headers={"X-Forwarded-For": "203.0.113.7"}
        )
        assert response.status_code == 201
    response = rest.call(
        "POST", SERVICE, json=body, headers={"X-Forwarded-For": "203.0.113.7"}
    )
    assert response.status_code == 429
    response = rest.call(
        "POST", SERVICE, json=body, headers={"X-Forwarded-For": "203.0.113.8"}
    )
    assert response.status_code == 201


def test_rate_limit_per_number(rest, plone_redis):
    for _ in range(3):
        assert rest.signup("signal", phone=SIGNAL_NUMBER).status_code == 201
    response = rest.signup(
        "signal", phone="0151 12345689"
    )  # the same number, written differently
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 23 * 3600
    assert "3 codes" in response.json()["error"]["message"]
    # Another number is not limited.
    assert rest.signup("signal", phone=THREEMA_NUMBER).status_code == 201


def test_idempotency_key_returns_the_same_pending_signup(rest, plone_redis):
    headers = {"Idempotency-Key": "form-4711"}
    body = {
        "topics": ["warnungen"],
        "channel": "signal",
        "phone": SIGNAL_NUMBER,
        "consent": True,
    }
    first = rest.call("POST", SERVICE, json=body, headers=headers)
    second = rest.call("POST", SERVICE, json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["token"] == second.json()["token"]
    assert rest.store().counts()["states"]["pending"] == 1
    subscriber = pending_subscriber(rest, first.json()["token"])
    assert len(queued_code(plone_redis, subscriber.id)) == 1  # the code went out once
    other = rest.call(
        "POST", SERVICE, json=body, headers={"Idempotency-Key": "form-4712"}
    )
    assert other.json()["token"] != first.json()["token"]


def test_idempotency_key_too_long(rest):
    response = rest.call(
        "POST",
        SERVICE,
        json={"topics": ["warnungen"], "channel": "telegram", "consent": True},
        headers={"Idempotency-Key": "k" * 256},
    )
    assert response.status_code == 400
    assert set(errors_of(response)) == {"Idempotency-Key"}


def test_logged_in_member_can_post_without_csrf_token(rest):
    # plone.protect would refuse a logged-in user's POST that writes without a form token.
    response = rest.call(
        "POST",
        SERVICE,
        json={"topics": ["warnungen"], "channel": "telegram", "consent": True},
        user="member",
    )
    assert response.status_code == 201, response.text
    assert pending_subscriber(rest, response.json()["token"]) is not None


# -- confirm and resend ------------------------------------------------------------------------


def test_confirm_errors(rest, plone_redis):
    step = rest.signup("signal", phone=SIGNAL_NUMBER).json()
    confirm = f"{SERVICE}/confirm"

    response = rest.call(
        "POST", confirm, json={"token": "no-such-token", "code": "123456"}
    )
    assert response.status_code == 410
    assert response.json()["error"]["type"] == "SignupExpired"

    response = rest.call("POST", confirm, json={"code": "123456"})
    assert response.status_code == 400
    assert set(errors_of(response)) == {"token"}

    response = rest.call("POST", confirm, json={"token": step["token"], "code": "12ab"})
    assert response.status_code == 400
    assert (
        errors_of(response)["code"] == "Please enter the 6-digit code from the message."
    )

    subscriber = pending_subscriber(rest, step["token"])
    (code,) = queued_code(plone_redis, subscriber.id)
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        response = rest.call(
            "POST", confirm, json={"token": step["token"], "code": wrong}
        )
        assert response.status_code == 400
        assert f"{left} more attempts" in errors_of(response)["code"]
    for attempt in (wrong, code):  # the fifth wrong code uses the last attempt up
        response = rest.call(
            "POST", confirm, json={"token": step["token"], "code": attempt}
        )
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "CodeExhausted"
        assert "request a new code" in response.json()["error"]["message"]
    assert pending_subscriber(rest, step["token"]).state == "pending"


def test_expired_code_is_410(rest, plone_redis):
    step = rest.signup("signal", phone=SIGNAL_NUMBER).json()
    subscriber = pending_subscriber(rest, step["token"])
    (code,) = queued_code(plone_redis, subscriber.id)
    # 15 minutes later: move the stored expiry into the past.
    subscriber.code = subscriber.code._replace(
        expires=datetime.now(timezone.utc) - timedelta(seconds=1)
    )
    transaction.commit()
    response = rest.call(
        "POST", f"{SERVICE}/confirm", json={"token": step["token"], "code": code}
    )
    assert response.status_code == 410
    assert response.json()["error"]["type"] == "CodeExpired"
    assert "expired" in response.json()["error"]["message"]


def test_resend_sends_a_new_code(rest, plone_redis):
    step = rest.signup("signal", phone=SIGNAL_NUMBER).json()
    subscriber = pending_subscriber(rest, step["token"])
    response = rest.call("POST", step["resend"], json={"token": step["token"]})
    assert response.status_code == 200, response.text
    assert response.json()["token"] == step["token"]
    first, second = queued_code(plone_redis, subscriber.id)  # in the order queued
    if first != second:  # one in a million they are equal
        response = rest.call(
            "POST", f"{SERVICE}/confirm", json={"token": step["token"], "code": first}
        )
        assert response.status_code == 400  # the new code replaced the first
    response = rest.call(
        "POST", f"{SERVICE}/confirm", json={"token": step["token"], "code": second}
    )
    assert response.status_code == 200, response.text
    response = rest.call("POST", step["resend"], json={"token": step["token"]})
    assert response.status_code == 410  # confirmed: no longer pending


def test_unknown_post_path(rest):
    response = rest.call("POST", f"{SERVICE}/other", json={})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "NotFound"


# -- managing ---------------------------------------------------------------------------------


def test_get_subscription(rest, plone_redis):
    confirmed = active_signal_subscription(
        rest, plone_redis, topics=("warnungen", "veranstaltungen")
    )
    response = rest.call("GET", confirmed["@id"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    data = response.json()
    assert data["channel"] == "signal"
    assert data["address"] == "+49 1511 ••• 89"
    assert data["topics"] == ["veranstaltungen", "warnungen"]
    assert data["mode"] == "immediate"
    assert data["state"] == "active"
    assert data["language"]
    assert datetime.fromisoformat(data["created"]) <= datetime.fromisoformat(
        data["confirmed"]
    )
    assert SIGNAL_NUMBER not in response.text


@pytest.mark.parametrize("token", ["x" * 43, "x" * 500, "a/b"])
def test_unknown_manage_token_is_404(rest, token):
    for method in ("GET", "PATCH", "DELETE"):
        response = rest.call(
            method, f"{SERVICE}/{token}", json={} if method == "PATCH" else None
        )
        assert response.status_code == 404, (method, response.text)
        assert response.json()["error"]["type"] == "NotFound"


def test_pending_signup_has_no_manage_access(rest):
    step = rest.signup("signal", phone=SIGNAL_NUMBER).json()
    subscriber = pending_subscriber(rest, step["token"])
    assert rest.call("GET", f"{SERVICE}/{subscriber.manage_token}").status_code == 404
    assert rest.call("GET", f"{SERVICE}/{step['token']}").status_code == 404


def test_patch_changes_topics_mode_language(rest, plone_redis):
    url = active_signal_subscription(rest, plone_redis)["@id"]
    response = rest.call(
        "PATCH",
        url,
        json={
            "topics": ["warnungen", "rathaus-aktuell"],
            "mode": "weekly",
            "language": "en",
        },
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["topics"] == ["rathaus-aktuell", "warnungen"]
    assert (data["mode"], data["language"]) == ("weekly", "en")
    assert rest.call("GET", url).json() == data
    store = rest.store()
    assert store.counts()["topic_channels"]["warnungen"]["signal"]["active"] == 1
    assert store.counts()["topics"]["baustellen-verkehr"].get("active", 0) == 0


def test_patch_accepts_its_own_get_answer(rest, plone_redis):
    url = active_signal_subscription(rest, plone_redis)["@id"]
    data = rest.call("GET", url).json()
    data["mode"] = "daily"
    response = rest.call("PATCH", url, json=data)
    assert response.status_code == 200, response.text
    assert response.json()["mode"] == "daily"


def test_patch_errors_change_nothing(rest, plone_redis):
    url = active_signal_subscription(rest, plone_redis)["@id"]
    before = rest.call("GET", url).json()
    cases = [
        ({"topics": ["freibad"]}, "topics"),
        ({"topics": []}, "topics"),
        ({"topics": "warnungen"}, "topics"),
        ({"mode": "hourly"}, "mode"),
        ({"mode": ["daily"]}, "mode"),
        ({"language": "klingon"}, "language"),
        ({"state": "active-again"}, "state"),
        ({"colour": "blue"}, "colour"),
    ]
    for body, field in cases:
        body_with_valid_change = {"mode": "weekly", **body}
        response = rest.call("PATCH", url, json=body_with_valid_change)
        assert response.status_code == 400, body
        assert set(errors_of(response)) == {field}, body
    response = rest.call("PATCH", url, json={"topics": [], "mode": "hourly"})
    assert set(errors_of(response)) == {"topics", "mode"}
    assert response.json()["error"]["message"] == "Please correct the marked fields."
    assert rest.call("GET", url).json() == before
    response = rest.call(
        "PATCH", url, data=b"[]", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_patch_state_unsubscribed_leaves_and_says_goodbye(rest, plone_redis):
    url = active_signal_subscription(rest, plone_redis)["@id"]
    response = rest.call("PATCH", url, json={"state": "unsubscribed"})
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "unsubscribed"
    assert response.json()["unsubscribed"]
    subscriber = rest.store().by_manage_token(url.rsplit("/", 1)[1])
    assert subscriber.state == "unsubscribed"
    assert len(queued_replies(plone_redis, f"goodbye-{subscriber.id}-")) == 1
    # Again: no second goodbye.
    assert rest.call("PATCH", url, json={"state": "unsubscribed"}).status_code == 200
    assert len(queued_replies(plone_redis, f"goodbye-{subscriber.id}-")) == 1


def test_delete_unsubscribe_only(rest, plone_redis):
    url = active_signal_subscription(rest, plone_redis)["@id"]
    response = rest.call("DELETE", url, params={"unsubscribe_only": "true"})
    assert response.status_code == 204
    subscriber = rest.store().by_manage_token(url.rsplit("/", 1)[1])
    assert subscriber.state == "unsubscribed"
    assert queued_replies(plone_redis, f"goodbye-{subscriber.id}-")
    assert rest.call("GET", url).json()["state"] == "unsubscribed"


def test_delete_erases_everything(rest, plone_redis):
    url = active_signal_subscription(rest, plone_redis)["@id"]
    subscriber_id = rest.store().by_manage_token(url.rsplit("/", 1)[1]).id
    response = rest.call("DELETE", url)
    assert response.status_code == 204
    assert response.content == b""
    store = rest.store()
    assert store.get(subscriber_id) is None
    assert store.by_address("signal", SIGNAL_NUMBER) is None
    assert store.counts()["total"] == 0
    assert store.check() == []
    assert rest.call("GET", url).status_code == 404


# -- ConflictError retry ------------------------------------------------------------------------


def test_conflict_error_retry_stores_one_subscriber(rest, plone_redis):
    """Zope retries a request that ends in a ConflictError; the retry must not add a second signup."""
    with conflict_on_first_attempt(
        lambda path: path.endswith(f"/{SERVICE}")
    ) as attempts:
        response = rest.signup("signal", phone=SIGNAL_NUMBER)
    assert attempts == [0, 1]
    assert response.status_code == 201, response.text
    store = rest.store()
    assert store.counts()["states"]["pending"] == 1
    assert store.counts()["total"] == 1
    subscriber = pending_subscriber(rest, response.json()["token"])
    assert subscriber is not None
    # The code of the aborted first attempt was never queued: one code, and it is the valid one.
    (code,) = queued_code(plone_redis, subscriber.id)
    response = rest.call(
        "POST",
        f"{SERVICE}/confirm",
        json={"token": response.json()["token"], "code": code},
    )
    assert response.status_code == 200, response.text
