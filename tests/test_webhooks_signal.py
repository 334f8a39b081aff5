"""``@messenger-webhook/signal/<secret>``: the secret in the URL, signal-cli-rest-api's shapes."""

import pytest
from webhooks_support import configure
from webhooks_support import Hooks
from webhooks_support import payload
from webhooks_support import queued_replies
from webhooks_support import SIGNAL_ACCOUNT
from webhooks_support import SIGNAL_SECRET

NUMBER = "+4915112345678"


@pytest.fixture
def hooks(live_site, acceptance):
    configure(acceptance["portal"])
    return Hooks(live_site, acceptance["portal"])


def notification(text, number=NUMBER, account=SIGNAL_ACCOUNT):
    data = payload("signal_jsonrpc_receive.json")
    envelope = data["params"]["envelope"]
    envelope["source"] = envelope["sourceNumber"] = number
    envelope["dataMessage"]["message"] = text
    data["params"]["account"] = account
    return data


def active_signal_subscriber(hooks):
    import transaction

    pending = hooks.pending("signal", address=NUMBER)
    store = hooks.store()
    subscriber = store.activate(store.get(pending.id))
    transaction.commit()
    return subscriber


@pytest.mark.parametrize(
    "secret",
    ["", "wrong", SIGNAL_SECRET[:-1], SIGNAL_SECRET + "x", SIGNAL_SECRET.upper()],
)
def test_wrong_or_missing_secret_is_403_and_changes_nothing(hooks, plone_redis, secret):
    subscriber = active_signal_subscriber(hooks)
    before = hooks.snapshot(plone_redis)
    url = hooks.url(f"signal/{secret}" if secret else "signal")
    response = hooks.session.post(url, json=notification("STOP"), timeout=30)
    assert response.status_code == 403
    assert hooks.snapshot(plone_redis) == before
    assert hooks.store().get(subscriber.id).state == "active"


def test_no_secret_configured_refuses(hooks):
    import transaction

    from collective.messenger.settings.access import MessengerSettings

    MessengerSettings(hooks.portal).signal_webhook_secret = None
    transaction.commit()
    assert hooks.signal(notification("STOP")).status_code == 403


def test_jsonrpc_notification_stop_unsubscribes(hooks, plone_redis):
    subscriber = active_signal_subscriber(hooks)
    response = hooks.signal(
        payload("signal_jsonrpc_receive.json")
    )  # "STOP" from NUMBER
    assert response.status_code == 200, response.text
    assert response.json()["outcomes"] == ["unsubscribed"]
    assert hooks.store().get(subscriber.id).state == "unsubscribed"
    (goodbye,) = queued_replies(plone_redis)
    assert (
        goodbye[0].startswith(f"goodbye-{subscriber.id}-") and goodbye[1][2] == NUMBER
    )


def test_bare_envelope_is_understood(hooks):
    response = hooks.signal(
        payload("signal_envelope.json")
    )  # "/start TOKEN", an unknown token
    assert response.json()["outcomes"] == ["unknown-token"]


@pytest.mark.parametrize(
    "change",
    [
        lambda data: data["params"].update(
            account="+4915199999999"
        ),  # another registered number
        lambda data: data["params"]["envelope"]["dataMessage"].update(
            groupInfo={"groupId": "abc", "type": "DELIVER"}
        ),
        lambda data: data["params"]["envelope"].pop("dataMessage"),
        lambda data: data["params"]["envelope"].update(
            source="a1b2c3d4-uuid", sourceNumber=None
        ),
        lambda data: data.update(method="receipt"),
        lambda data: data.pop("params"),
    ],
)
def test_other_notifications_are_ignored(hooks, plone_redis, change):
    subscriber = active_signal_subscriber(hooks)
    data = notification("STOP")
    change(data)
    response = hooks.signal(data)
    assert response.status_code == 200
    assert response.json()["outcomes"] == []
    assert hooks.store().get(subscriber.id).state == "active"


def test_extra_path_segments_are_404(hooks):
    response = hooks.session.post(
        hooks.url(f"signal/{SIGNAL_SECRET}/more"), json={}, timeout=30
    )
    assert response.status_code == 404
