"""Bad input to the webhooks: 400 or 413 with a JSON message, never a 500, nothing stored."""

import json

import pytest
from webhooks_support import configure
from webhooks_support import Hooks
from webhooks_support import SIGNAL_SECRET
from webhooks_support import signature
from webhooks_support import TELEGRAM_SECRET

from collective.messenger.webhooks.requestbody import MAX_BODY_BYTES

SECRET_HEADER = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}


@pytest.fixture
def hooks(live_site, acceptance):
    configure(acceptance["portal"])
    return Hooks(live_site, acceptance["portal"])


def padded(size):
    """A JSON object (a Telegram update nobody acts on) of exactly ``size`` bytes."""
    skeleton = json.dumps({"update_id": 1, "padding": ""}).encode()
    body = json.dumps({
        "update_id": 1,
        "padding": "x" * (size - len(skeleton)),
    }).encode()
    assert len(body) == size
    return body


def assert_error(response, status, words):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert words in error["message"]
    return error


@pytest.mark.parametrize(
    "body, words",
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"{'update_id': 1}", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[" * 100000 + b"]" * 100000, "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b"42", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (b"null", "must be a JSON object"),
    ],
)
def test_malformed_json_is_400(hooks, plone_redis, body, words):
    before = hooks.snapshot(plone_redis)
    assert_error(hooks.telegram(body), 400, words)
    assert hooks.snapshot(plone_redis) == before


MULTIPART = (
    b'--xyz\r\nContent-Disposition: form-data; name="update_id"\r\n\r\n1\r\n--xyz--\r\n'
)


@pytest.mark.parametrize(
    "content_type, body",
    [
        (None, b'{"update_id": 1}'),
        ("text/plain", b'{"update_id": 1}'),
        ("application/x-www-form-urlencoded", b"update_id=1"),
        ("application/x-www-form-urlencoded", b'{"update_id": 1}'),
        ("multipart/form-data; boundary=xyz", MULTIPART),
        ("application/jsonx", b'{"update_id": 1}'),
    ],
)
def test_wrong_content_type_is_400(hooks, plone_redis, content_type, body):
    before = hooks.snapshot(plone_redis)
    assert_error(hooks.telegram(body, content_type=content_type), 400, "must be JSON")
    assert hooks.snapshot(plone_redis) == before


def test_malformed_multipart_is_400_before_it_reaches_the_webhook(hooks):
    # Zope parses form bodies before publishing and refuses this one itself.
    response = hooks.telegram(
        b'{"update_id": 1}', content_type="multipart/form-data; boundary=xyz"
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")


def test_json_with_charset_parameter_is_fine(hooks):
    response = hooks.telegram(
        b'{"update_id": 1}', content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 200


def test_body_at_the_limit_is_accepted_and_over_it_413(hooks, plone_redis):
    assert hooks.telegram(padded(MAX_BODY_BYTES)).status_code == 200
    before = hooks.snapshot(plone_redis)
    error = assert_error(hooks.telegram(padded(MAX_BODY_BYTES + 1)), 413, "larger than")
    assert error["type"] == "PayloadTooLarge"
    assert hooks.snapshot(plone_redis) == before


def test_large_body_without_content_length_is_413(hooks):
    body = padded(MAX_BODY_BYTES + 1000)

    def chunks():  # requests sends a generator chunked, without Content-Length
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    response = hooks.session.post(
        hooks.url("telegram"),
        data=chunks(),
        timeout=30,
        headers={**SECRET_HEADER, "Content-Type": "application/json"},
    )
    assert_error(response, 413, "larger than")


def test_oversized_whatsapp_body_is_refused_before_its_signature(hooks):
    body = padded(MAX_BODY_BYTES + 1)
    assert hooks.whatsapp(body, sign=signature(body)).status_code == 413
    assert hooks.whatsapp(body, sign="sha256=0").status_code == 413


def test_oversized_signal_body(hooks):
    assert hooks.signal(padded(2 * MAX_BODY_BYTES)).status_code == 413


@pytest.mark.parametrize(
    "path",
    [
        "",
        "threema",
        "Telegram",
        "telegram/extra",
        "whatsapp/x/y",
        f"signal/{SIGNAL_SECRET}/x",
    ],
)
def test_unknown_webhooks_are_404(hooks, path):
    url = hooks.url(path).rstrip("/")
    response = hooks.session.post(
        url,
        data=b"{}",
        timeout=30,
        headers={**SECRET_HEADER, "Content-Type": "application/json"},
    )
    assert_error(response, 404, "no such messenger webhook")


@pytest.mark.parametrize("path", ["telegram", f"signal/{SIGNAL_SECRET}"])
def test_get_on_a_post_only_webhook_is_405(hooks, path):
    response = hooks.session.get(hooks.url(path), headers=SECRET_HEADER, timeout=30)
    assert_error(response, 405, "does not accept")
    assert response.headers["Allow"] == "POST"
