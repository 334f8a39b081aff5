"""Hypothesis fuzz of the subscription services over HTTP: never a 5xx, rejected input stores nothing.

One live server for all examples; the per-IP signup limit is reset between examples so that
the validation, not the limit, answers. Derandomized in CI (the same examples every run);
`make fuzz` draws new ones (fuzz_support).
"""

import json

import requests
from fuzz_support import examples
from hypothesis import event
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
from rest_support import active_signal_subscription
from rest_support import rest_fixture  # noqa: F401  (the "rest" fixture)
from rest_support import SIGNAL_NUMBER
from rest_support import TOPICS

SERVICE = "@messenger-subscriptions"
FUZZ = settings(
    max_examples=examples(120),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

texts = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=200),
    st.sampled_from([
        "",
        " ",
        "\x00",
        "☃",
        "𝕏" * 5,
        "\ud800",
        "<script>",
        "../../etc",
        "%00",
        "A" * 70_000,
    ]),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=12,
)
topic_values = st.one_of(
    st.lists(st.sampled_from(TOPICS + ["freibad", "BAUSTELLEN", ""]), max_size=6),
    st.lists(st.text(max_size=20), max_size=3),
    json_values,
)
channel_values = st.one_of(
    st.sampled_from(["telegram", "whatsapp", "signal", "threema", "fax", ""]),
    json_values,
)
phone_values = st.one_of(
    st.sampled_from([
        SIGNAL_NUMBER,
        "0151 12345689",
        "030 1234567",
        "echoecho",
        "+49",
        "0" * 41,
    ]),
    json_values,
)
language_values = st.one_of(
    st.sampled_from(["de", "en", "de-at", "xx-yyyyy", "DE"]), json_values
)
signup_bodies = st.fixed_dictionaries(
    {},
    optional={
        "topics": topic_values,
        "channel": channel_values,
        "phone": phone_values,
        "consent": st.one_of(st.just(True), json_values),
        "language": language_values,
        "website": json_values,
    },
).flatmap(
    # plus a few fields the service does not know
    lambda body: st.dictionaries(st.text(max_size=8), json_values, max_size=3).map(
        lambda extra: {**extra, **body}
    )
)

VALID_BODIES = [
    {"topics": ["warnungen"], "channel": "telegram", "consent": True},
    {"topics": TOPICS, "channel": "whatsapp", "consent": True, "language": "en"},
    {
        "topics": ["veranstaltungen"],
        "channel": "signal",
        "phone": SIGNAL_NUMBER,
        "consent": True,
    },
    {
        "topics": ["warnungen"],
        "channel": "threema",
        "phone": "ECHOECHO",
        "consent": True,
    },
]


@st.composite
def nearly_valid_bodies(draw):
    """A valid body with at most one field replaced, removed or added: most answers are 201
    or name exactly that field."""
    body = dict(draw(st.sampled_from(VALID_BODIES)))
    change = draw(st.sampled_from(["none", "replace", "remove", "add"]))
    field = draw(
        st.sampled_from([
            "topics",
            "channel",
            "phone",
            "consent",
            "language",
            "website",
        ])
    )
    if change == "replace":
        body[field] = draw(json_values)
    elif change == "remove":
        body.pop(field, None)
    elif change == "add":
        body[draw(st.text(max_size=8))] = draw(json_values)
    return body


def reset_limits(redis_client):
    keys = redis_client.keys("messenger:limit:*")
    if keys:
        redis_client.delete(*keys)


def post(rest, path, body, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    headers = {"Accept": "application/json", "Content-Type": content_type}
    return requests.post(rest.url(path), data=data, headers=headers, timeout=30)


def assert_clean_rejection(response):
    assert response.status_code < 500, response.text
    assert 400 <= response.status_code < 500
    answer = response.json()
    # Our services answer {"error": {...}}; a body Zope cannot even decode as a form is
    # refused before they run, by plone.restapi's error view ({"type", "message"}).
    error = answer.get("error", answer)
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in response.text


# The fixtures are set up once per test function; every example shares the live site.
@FUZZ
@given(
    body=st.one_of(
        nearly_valid_bodies(), nearly_valid_bodies(), signup_bodies, json_values
    )
)
def test_fuzz_signup(rest, plone_redis, body):
    reset_limits(plone_redis)
    before = rest.store().counts()
    response = post(rest, SERVICE, body)
    event(f"HTTP {response.status_code}")  # see --hypothesis-show-statistics
    after = rest.store().counts()
    if response.status_code == 201:
        assert after["states"]["pending"] == before["states"]["pending"] + 1
        assert set(response.json()) >= {"channel", "kind", "token", "expires"}
    else:
        assert_clean_rejection(response)
        assert after == before


@settings(FUZZ, max_examples=examples(40))
@given(
    body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
    content_type=st.sampled_from([
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=x",
        "",
    ]),
)
def test_fuzz_signup_raw_bodies(rest, plone_redis, body, content_type):
    reset_limits(plone_redis)
    before = rest.store().counts()
    response = post(rest, SERVICE, body, content_type)
    event(f"HTTP {response.status_code}")
    if response.status_code != 201:
        assert_clean_rejection(response)
        assert rest.store().counts() == before


def test_fuzz_confirm_and_manage(rest, plone_redis):
    own = active_signal_subscription(rest, plone_redis)
    step = rest.signup("signal", phone="0176 12345678").json()

    @settings(FUZZ, max_examples=examples(60))
    @given(
        body=st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "token": st.one_of(st.just(step["token"]), json_values),
                    "code": json_values,
                },
            ),
            st.fixed_dictionaries(
                {},
                optional={
                    "topics": topic_values,
                    "mode": json_values,
                    "language": language_values,
                    "state": json_values,
                },
            ),
        ),
        target=st.sampled_from(["confirm", "resend", "patch"]),
    )
    def check(body, target):
        reset_limits(plone_redis)
        before = rest.store().counts()
        subscription = rest.call("GET", own["@id"]).json()
        if target == "patch":
            response = rest.call("PATCH", own["@id"], json=body)
        else:
            response = post(rest, f"{SERVICE}/{target}", body)
        event(f"{target}: HTTP {response.status_code}")
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert_clean_rejection(response)
            if target == "patch":
                assert rest.store().counts() == before
                assert rest.call("GET", own["@id"]).json() == subscription

    check()
