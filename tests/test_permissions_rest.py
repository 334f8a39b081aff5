"""No REST answer shows an address, to any role: only the masked one of the caller's own subscription.

Anonymous, Member, Editor and Site Administrator each sign up, confirm and manage their own
subscription over REST, and try everything they could reach; others' addresses stored in
the site never appear in any answer, in any spelling.
"""

import pytest
import transaction
from rest_support import active_signal_subscription
from rest_support import rest_fixture  # noqa: F401  (the "rest" fixture)
from rest_support import THREEMA_NUMBER

SERVICE = "@messenger-subscriptions"
OTHERS = {
    "signal": "+4915112345689",
    "whatsapp": "4915198765432",
    "telegram": "987654321",
    "threema": "ECHOECHO",
}
# Every spelling of the others' addresses an answer might contain.
FORBIDDEN = [
    "+4915112345689",
    "15112345689",
    "0151 12345689",
    "1511 2345689",
    "4915198765432",
    "15198765432",
    "987654321",
    "ECHOECHO",
]
OWN_NUMBER = THREEMA_NUMBER  # the caller's own Signal number
OWN_FORBIDDEN = [OWN_NUMBER, OWN_NUMBER[3:], "17612345678", "0176 12345678"]


@pytest.fixture
def others(rest):
    """Four active subscribers of other people, one per channel; returns their records' tokens."""
    from collective.messenger.subscribers import Consent

    store = rest.store()
    tokens = {}
    for channel, address in OTHERS.items():
        pending = store.add_pending(
            channel,
            ["warnungen"],
            "de",
            Consent(privacy_version="v1", path="portlet"),
            address=address if channel in ("signal", "threema") else None,
        )
        tokens[channel] = {"id": pending.id, "confirm": pending.confirm_token}
        subscriber = store.activate(
            pending, address=None if channel in ("signal", "threema") else address
        )
        tokens[channel]["manage"] = subscriber.manage_token
    # One more that stays pending, with its confirm token.
    pending = store.add_pending(
        "signal",
        ["warnungen"],
        "de",
        Consent(privacy_version="v1", path="page"),
        address="+4915222222222",
    )
    tokens["pending"] = {
        "id": pending.id,
        "confirm": pending.confirm_token,
        "manage": pending.manage_token,
    }
    transaction.commit()
    return tokens


def assert_no_address(response, forbidden=FORBIDDEN):
    assert response.status_code < 500, response.text
    for text in forbidden:
        assert text not in response.text, (response.request.method, response.url, text)


@pytest.mark.parametrize("user", [None, "member", "editor", "siteadmin"])
def test_no_role_sees_an_address(rest, plone_redis, others, user):
    calls = [
        ("GET", "@messenger-topics", None),
        ("GET", SERVICE, None),
        ("GET", f"{SERVICE}/{others['signal']['id']}", None),
        ("GET", f"{SERVICE}/{others['pending']['confirm']}", None),
        (
            "GET",
            f"{SERVICE}/{others['pending']['manage']}",
            None,
        ),  # pending: not manageable yet
        (
            "POST",
            f"{SERVICE}/confirm",
            {"token": others["pending"]["confirm"], "code": "123456"},
        ),
        ("POST", f"{SERVICE}/resend", {"token": others["pending"]["confirm"]}),
        ("PATCH", f"{SERVICE}/{others['signal']['id']}", {"state": "unsubscribed"}),
        ("DELETE", f"{SERVICE}/{others['signal']['id']}", None),
        # Plone's own REST answers about the site and its settings.
        ("GET", "", None),
        ("GET", "@search?SearchableText=signal", None),
        ("GET", "@controlpanels/messenger", None),
        ("GET", "@registry", None),
    ]
    for method, path, body in calls:
        assert_no_address(rest.call(method, path, json=body, user=user))

    # Signing up with one's own number answers with it masked only.
    signup = rest.signup("signal", phone=OWN_NUMBER, user=user)
    assert signup.status_code == 201, signup.text
    assert signup.json()["sent_to"] == "+49 176 ••• 78"
    assert_no_address(signup, FORBIDDEN + OWN_FORBIDDEN)

    plone_redis.delete(*plone_redis.keys("messenger:limit:*"))
    own = active_signal_subscription(
        rest, plone_redis, number="0176 98765432", user=user
    )
    for method, body in (("GET", None), ("PATCH", {"topics": ["warnungen"]})):
        response = rest.call(method, own["@id"], json=body, user=user)
        assert response.status_code == 200
        assert response.json()["address"] == "+49 176 ••• 32"
        assert_no_address(
            response, FORBIDDEN + ["+4917698765432", "17698765432", "98765432"]
        )


@pytest.mark.parametrize("user", [None, "member", "editor", "siteadmin"])
def test_others_subscriptions_are_unreachable_without_their_token(
    rest, others, user, plone_redis
):
    store_before = rest.store().counts()
    for channel in OTHERS:
        # 24 unknown tokens from one client would trip the guessing limit (tested in
        # test_signup_limits.py); here each channel starts with a clean count.
        plone_redis.delete(*plone_redis.keys("messenger:limit:*") or ["-"])
        for key in ("id", "confirm"):
            token = others[channel][key]
            for method in ("GET", "PATCH", "DELETE"):
                body = {"state": "unsubscribed"} if method == "PATCH" else None
                response = rest.call(method, f"{SERVICE}/{token}", json=body, user=user)
                assert response.status_code == 404, (
                    method,
                    channel,
                    key,
                    response.text,
                )
    assert rest.store().counts() == store_before


@pytest.mark.parametrize(
    "channel, masked",
    [
        ("signal", "+49 1511 ••• 89"),
        ("whatsapp", "+49 1519 ••• 32"),
        ("telegram", None),
        ("threema", "EC••••HO"),
    ],
)
def test_manage_token_shows_the_masked_address_only(rest, others, channel, masked):
    response = rest.call(
        "GET", f"{SERVICE}/{others[channel]['manage']}", user="siteadmin"
    )
    assert response.status_code == 200
    assert response.json()["address"] == masked
    assert_no_address(response)
