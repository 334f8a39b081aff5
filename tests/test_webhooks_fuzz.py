"""Hypothesis against the live webhooks: random bodies, headers and paths never get a 5xx,
and a request that is not answered 200 leaves subscribers and Redis as they were.

Derandomized in CI (the same examples every run); `make fuzz` draws new ones (fuzz_support).
Examples that once failed are pinned with ``@example``.
"""

import json

import pytest
from fuzz_support import examples
from fuzz_support import PROFILE
from hypothesis import example
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
from webhooks_support import configure
from webhooks_support import Hooks
from webhooks_support import SIGNAL_SECRET
from webhooks_support import signature
from webhooks_support import TELEGRAM_SECRET
from webhooks_support import WHATSAPP_APP_SECRET

FUZZ = settings(
    max_examples=examples(100),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# Header values requests can send: printable ASCII without surrounding spaces.
header_text = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=80)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
texts = st.sampled_from([
    "/start",
    "/stop",
    "STOP",
    "Abmelden",
    "START abc",
    "/start " + "A" * 32,
]) | st.text(max_size=40)
chat_ids = st.integers(-(10**13), 10**13) | st.text(max_size=10) | st.none()

telegram_updates = st.fixed_dictionaries(
    {"update_id": st.integers(0, 2**31)},
    optional={
        "message": st.fixed_dictionaries(
            {},
            optional={
                "chat": st.fixed_dictionaries(
                    {}, optional={"id": chat_ids, "type": st.text(max_size=8)}
                ),
                "from": st.dictionaries(
                    st.sampled_from(["id", "first_name", "last_name"]),
                    json_values,
                    max_size=3,
                ),
                "text": texts | json_values,
                "caption": texts,
            },
        ),
        "my_chat_member": st.fixed_dictionaries(
            {},
            optional={
                "chat": st.fixed_dictionaries({}, optional={"id": chat_ids}),
                "new_chat_member": st.fixed_dictionaries(
                    {},
                    optional={
                        "status": st.sampled_from(["kicked", "left", "member"])
                        | json_values
                    },
                ),
            },
        ),
        "edited_message": json_values,
    },
)
whatsapp_values = st.fixed_dictionaries(
    {},
    optional={
        "metadata": st.fixed_dictionaries(
            {}, optional={"phone_number_id": st.sampled_from(["100200300", "1"])}
        ),
        "contacts": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "wa_id": st.text(max_size=15),
                    "profile": st.fixed_dictionaries(
                        {}, optional={"name": json_values}
                    ),
                },
            ),
            max_size=2,
        ),
        "messages": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "from": st.text(max_size=15) | json_values,
                    "type": st.sampled_from(["text", "button", "interactive", "image"])
                    | json_values,
                    "text": st.fixed_dictionaries(
                        {}, optional={"body": texts | json_values}
                    ),
                    "button": st.fixed_dictionaries({}, optional={"text": texts}),
                },
            ),
            max_size=3,
        ),
        "statuses": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "id": st.text(max_size=30) | json_values,
                    "status": st.sampled_from(["sent", "delivered", "read", "failed"])
                    | json_values,
                    "errors": st.lists(
                        st.fixed_dictionaries(
                            {}, optional={"code": st.integers() | json_values}
                        ),
                        max_size=2,
                    ),
                },
            ),
            max_size=3,
        ),
    },
)
whatsapp_payloads = st.fixed_dictionaries(
    {},
    optional={
        "object": st.sampled_from(["whatsapp_business_account", "page"]) | json_values,
        "entry": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "changes": st.lists(
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "field": st.sampled_from([
                                    "messages",
                                    "account_update",
                                ]),
                                "value": whatsapp_values | json_values,
                            },
                        ),
                        max_size=2,
                    ),
                },
            ),
            max_size=2,
        ),
    },
)
signal_payloads = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.just("2.0"),
        "method": st.sampled_from(["receive", "other"]) | json_values,
        "params": st.fixed_dictionaries(
            {},
            optional={
                "account": st.sampled_from(["+4915111111111", "+4900"]) | json_values,
                "envelope": st.fixed_dictionaries(
                    {},
                    optional={
                        "sourceNumber": st.sampled_from(["+4915112345678", "x"])
                        | json_values,
                        "dataMessage": st.fixed_dictionaries(
                            {},
                            optional={
                                "message": texts | json_values,
                                "groupInfo": json_values,
                            },
                        ),
                    },
                )
                | json_values,
            },
        )
        | json_values,
    },
)
bodies = (
    st.binary(max_size=300)
    | json_values.map(lambda value: json.dumps(value).encode())
    | st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass"))
)
content_types = (
    st.sampled_from([
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "",
        None,
    ])
    | header_text
)


@pytest.fixture
def hooks(live_site, acceptance):
    configure(acceptance["portal"])
    return Hooks(live_site, acceptance["portal"])


def check(hooks, redis_client, method, path, body, headers):
    before = hooks.snapshot(redis_client)
    headers = {name: value for name, value in headers.items() if value is not None}
    response = hooks.session.request(
        method, hooks.url(path), data=body, headers=headers, timeout=30
    )
    assert response.status_code < 500, (path, body[:200], headers, response.text[:500])
    if response.status_code != 200:
        assert hooks.snapshot(redis_client) == before, (
            path,
            body[:200],
            headers,
            response.status_code,
        )
    return response


@FUZZ
@given(
    path=st.sampled_from([
        "telegram",
        "whatsapp",
        f"signal/{SIGNAL_SECRET}",
        "signal/x",
        "signal",
        "%80",
        "telegram%FF",
        "t%C3%A4st",
    ])
    | header_text.filter(lambda text: "/" not in text and text not in (".", "..")),
    body=bodies,
    content_type=content_types,
    secret=st.none() | header_text | st.just(TELEGRAM_SECRET),
    sign=st.none() | header_text,
    method=st.sampled_from(["POST", "POST", "GET", "PUT"]),
)
# Found by an earlier run: a path that is not UTF-8 was a 500 with a traceback (Zope decodes
# the path before traversal); the WSGI filter answers 400 now. And a form without boundary.
@example(path="%80", body=b"", content_type=None, secret=None, sign=None, method="POST")
@example(
    path="telegram",
    body=b"{}",
    content_type="multipart/form-data",
    secret=None,
    sign=None,
    method="POST",
)
def test_random_requests(
    hooks, plone_redis, path, body, content_type, secret, sign, method
):
    check(
        hooks,
        plone_redis,
        method,
        path,
        body,
        {
            "Content-Type": content_type,
            "X-Telegram-Bot-Api-Secret-Token": secret,
            "X-Hub-Signature-256": sign,
        },
    )


@FUZZ
@given(
    update=telegram_updates,
    secret=st.sampled_from([TELEGRAM_SECRET, TELEGRAM_SECRET + "!", None]),
)
def test_telegram_shaped_payloads(hooks, plone_redis, update, secret):
    response = check(
        hooks,
        plone_redis,
        "POST",
        "telegram",
        json.dumps(update).encode(),
        {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret},
    )
    assert response.status_code == (200 if secret == TELEGRAM_SECRET else 403)


@FUZZ
@given(data=whatsapp_payloads, signed=st.booleans())
def test_whatsapp_shaped_payloads(hooks, plone_redis, data, signed):
    body = json.dumps(data).encode()
    response = check(
        hooks,
        plone_redis,
        "POST",
        "whatsapp",
        body,
        {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature(
                body, WHATSAPP_APP_SECRET if signed else "guess"
            ),
        },
    )
    assert response.status_code == (200 if signed else 403)


@FUZZ
@given(
    data=signal_payloads, secret=st.sampled_from([SIGNAL_SECRET, SIGNAL_SECRET[:-1]])
)
def test_signal_shaped_payloads(hooks, plone_redis, data, secret):
    response = check(
        hooks,
        plone_redis,
        "POST",
        f"signal/{secret}",
        json.dumps(data).encode(),
        {"Content-Type": "application/json"},
    )
    assert response.status_code == (200 if secret == SIGNAL_SECRET else 403)


@pytest.mark.skipif(
    PROFILE == "fuzz", reason="`make fuzz` draws new examples on purpose"
)
def test_ci_draws_the_same_examples_on_every_run():
    """A red CI run must mean a regression, not a new draw (the path %80 once turned a later
    run red): the fuzz tests are derandomized outside `make fuzz`."""
    drawn = []

    @settings(FUZZ, max_examples=30)
    @given(body=bodies, content_type=content_types)
    def probe(body, content_type):
        drawn.append((body, content_type))

    probe()
    first, drawn[:] = list(drawn), []
    probe()
    assert drawn == first and len(set(first)) > 10
