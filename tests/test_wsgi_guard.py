"""The add-on's WSGI filter (``collective.messenger.wsgi``) in front of Zope, through a real
WSGI server (the acceptance layer's waitress, which serves with the filter as production
does): requests Zope fails on before its own error handling get a 400 a person can read.

The demo's server (zope.ini with the filter) is tested in ``test_demo.py``.
"""

import socket

import pytest
import requests

from collective.messenger.wsgi import filter_factory
from collective.messenger.wsgi import preferred_language
from collective.messenger.wsgi import problem


@pytest.fixture
def server(live_site, acceptance):
    return f"http://{acceptance['host']}:{acceptance['port']}"


def raw_request(host, port, request_line, headers=(), body=b""):
    """An HTTP/1.0 request sent as bytes (a client library would re-encode the path)."""
    lines = [
        request_line,
        f"Host: {host}:{port}",
        *headers,
        f"Content-Length: {len(body)}",
        "",
        "",
    ]
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall("\r\n".join(lines).encode("latin-1") + body)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _sep, content = answer.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    return status, head.decode("latin-1"), content.decode("utf-8", "replace")


URLS = [
    "/",
    "/plone",
    "/plone/@messenger-webhook/telegram",
    "/plone/@@messenger-signup",
    "/plone/@messenger-subscriptions",
    "/plone/login_form",
]


@pytest.mark.parametrize("path", URLS)
@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",
        "multipart/form-data; charset=utf-8",
        "Multipart/Form-Data; boundary=",
        'multipart/form-data; boundary=""',
    ],
)
def test_multipart_without_boundary_is_400_on_every_url(server, path, content_type):
    response = requests.post(
        server + path,
        data=b"--x\r\n\r\n",
        headers={"Content-Type": content_type},
        timeout=30,
        allow_redirects=False,
    )
    assert response.status_code == 400, response.text[:500]
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "names no boundary" in response.text
    assert "Traceback" not in response.text


def test_multipart_without_boundary_in_german_and_as_json(server):
    german = requests.post(
        f"{server}/plone",
        data=b"x",
        timeout=30,
        headers={
            "Content-Type": "multipart/form-data",
            "Accept-Language": "fr;q=1, de-DE;q=0.8, en;q=0.5",
        },
    )
    assert german.status_code == 400
    assert "Grenze" in german.text, (
        german.text
    )  # "... nennt aber keine Grenze zwischen ..."
    answer = requests.post(
        f"{server}/plone/@messenger-subscriptions",
        data=b"x",
        timeout=30,
        headers={"Content-Type": "multipart/form-data", "Accept": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "BadRequest"
    assert "names no boundary" in answer.json()["error"]["message"]


def test_multipart_with_a_boundary_reaches_zope(server, live_site):
    body = b'--xyz\r\nContent-Disposition: form-data; name="topics"\r\n\r\nwarnungen\r\n--xyz--\r\n'
    response = requests.post(
        f"{live_site}/@@messenger-signup",
        data=body,
        timeout=30,
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    # The signup page answers (it refuses a POST without its form token), not the filter.
    assert response.status_code != 400 or "names no boundary" not in response.text
    assert "Traceback" not in response.text
    assert requests.get(live_site, timeout=30).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/plone/@messenger-webhook/%80",
        "/%FF",
        "/plone/%C3%28",
        "/plone/@@messenger-signup/%E4",
        "/plone/%ED%A0%80",
    ],
)
def test_path_that_is_not_utf8_is_400(server, acceptance, path):
    status, head, text = raw_request(
        acceptance["host"], acceptance["port"], f"GET {path} HTTP/1.0"
    )
    assert status == 400, text[:500]
    assert "not valid" in text and "UTF-8" in text
    assert "Traceback" not in text
    status, _head, text = raw_request(
        acceptance["host"],
        acceptance["port"],
        f"POST {path} HTTP/1.0",
        ["Content-Type: application/json"],
        b"{}",
    )
    assert status == 400


def test_utf8_paths_and_the_next_visitor_are_served_as_usual(
    server, live_site, acceptance
):
    host, port = acceptance["host"], acceptance["port"]
    assert raw_request(host, port, "GET /%80 HTTP/1.0")[0] == 400
    # Valid UTF-8 (an umlaut) reaches Zope: a 404 page of the site, no filter answer.
    status, _head, text = raw_request(host, port, "GET /plone/t%C3%A4st HTTP/1.0")
    assert status == 404 and "not valid" not in text
    page = requests.get(live_site, timeout=30)
    assert page.status_code == 200 and "Traceback" not in page.text


@pytest.mark.parametrize(
    "request_line, headers, fragment",
    [
        # Zope: ValueError in the form marshalling, 500 on any Plone URL.
        ("GET /plone?b_start:int=x HTTP/1.0", [], "text where a number belongs"),
        (
            "GET /plone/@@messenger-signup?a:record=1&a.b:int=x HTTP/1.0",
            [],
            "text where a number belongs",
        ),
        # Zope: binascii.Error and ValueError decoding Basic credentials, 500.
        ("GET / HTTP/1.0", ["Authorization: Basic !!!"], "Basic credentials"),
        (
            "GET /plone HTTP/1.0",
            ["Authorization: Basic dXNlcg=="],
            "Basic credentials",
        ),  # "user", no colon
        # Zope: LookupError for the form's charset, 500.
        (
            "POST /plone HTTP/1.0",
            ["Content-Type: application/x-www-form-urlencoded; charset=bogus"],
            "charset=bogus",
        ),
    ],
)
def test_other_requests_zope_fails_on_before_traversal(
    server, acceptance, request_line, headers, fragment
):
    body = b"a=1" if request_line.startswith("POST") else b""
    status, _head, text = raw_request(
        acceptance["host"], acceptance["port"], request_line, headers, body
    )
    assert status == 400, text[:300]
    assert fragment in text and "Traceback" not in text


def test_good_credentials_typed_parameters_and_charsets_pass(server, live_site):
    from conftest import PASSWORD

    assert requests.get(f"{live_site}?b_start:int=20", timeout=30).status_code == 200
    page = requests.get(
        f"{live_site}/@@messenger-dashboard", auth=("siteadmin", PASSWORD), timeout=30
    )
    assert page.status_code == 200 and "messenger-dashboard" in page.text
    response = requests.post(
        f"{live_site}/@messenger-subscriptions",
        data=b"{}",
        timeout=30,
        headers={
            "Accept": "application/json",
            "Content-Type": "application/json; charset=latin-1",
        },
    )
    assert (
        response.status_code == 400 and "topics" in response.text.lower()
    )  # the service's own answer


def test_the_filter_alone():
    """The checks without a server: what passes untouched."""
    assert (
        problem({"PATH_INFO": "/plone/t\xc3\xa4st", "CONTENT_TYPE": "application/json"})
        is None
    )
    assert (
        problem({"PATH_INFO": "/", "CONTENT_TYPE": "multipart/form-data; boundary=abc"})
        is None
    )
    assert (
        problem({"PATH_INFO": "/", "CONTENT_TYPE": "multipart/mixed"}) is None
    )  # Zope does not parse it
    assert problem({}) is None
    assert problem({"PATH_INFO": "/", "QUERY_STRING": "b_start:int=20"}) is None
    assert problem({"PATH_INFO": "/", "HTTP_AUTHORIZATION": "Bearer x.y.z"}) is None
    # Zope does not parse a JSON body as a form: its charset is the service's business.
    assert (
        problem({
            "PATH_INFO": "/",
            "REQUEST_METHOD": "POST",
            "CONTENT_TYPE": "application/json; charset=x",
        })
        is None
    )
    assert problem({"PATH_INFO": "/\x80"}) is not None
    assert (
        preferred_language({"HTTP_ACCEPT_LANGUAGE": "de-AT,de;q=0.9,en;q=0.8"}) == "de"
    )
    assert preferred_language({"HTTP_ACCEPT_LANGUAGE": "en-US,de;q=0.5"}) == "en"
    assert preferred_language({"HTTP_ACCEPT_LANGUAGE": "fr, de;q=x"}) == "en"
    assert preferred_language({}) == "en"

    calls = []
    guard = filter_factory({})(
        lambda environ, start_response: calls.append(environ) or [b"ok"]
    )
    assert guard({"PATH_INFO": "/ok"}, lambda *args: None) == [b"ok"]
    started = []
    body = guard(
        {"PATH_INFO": "/%80".replace("%80", "\x80")},
        lambda status, headers: started.append(status),
    )
    assert started == ["400 Bad Request"] and b"UTF-8" in body[0]
    assert len(calls) == 1


def test_refusals_are_logged_for_the_operator(server, acceptance, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="collective.messenger.wsgi"):
        raw_request(
            acceptance["host"],
            acceptance["port"],
            "GET /plone/@messenger-webhook/%80 HTTP/1.0",
        )
    (record,) = [r for r in caplog.records if r.name == "collective.messenger.wsgi"]
    assert record.getMessage() == (
        "Answered 400 before Zope to GET '/plone/@messenger-webhook/\\x80': "
        "The address of this request is not valid: it contains bytes that are "
        "not UTF-8 (for example %80). Please check the link."
    )
