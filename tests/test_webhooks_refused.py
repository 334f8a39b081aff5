"""Events the subscriber store refuses (``SubscriberError``) are answered, logged and undone:
the webhook answers 200 (the platforms repeat anything else), nothing is stored or queued,
and the other events of the same call stand."""

import pytest
import transaction
from webhooks_support import queued_replies

from collective.messenger.subscribers import Consent
from collective.messenger.subscribers import get_store
from collective.messenger.webhooks import dispatch
from collective.messenger.webhooks.events import Blocked
from collective.messenger.webhooks.events import Message


@pytest.fixture
def store(functional, plone_redis):
    return get_store(functional["portal"])


def pending(store, channel="telegram"):
    return store.add_pending(channel, ["warnungen"], "de", Consent("v1", "rest"))


BAD_ADDRESSES = ["1" * 65, "12 34", " ", ""]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
@pytest.mark.parametrize("channel", ["telegram", "whatsapp"])
def test_start_from_an_address_the_store_refuses(
    store, plone_redis, caplog, channel, address
):
    signup = pending(store, channel)
    counts = store.counts()
    outcomes = dispatch.apply([
        Message(channel, address, f"/start {signup.confirm_token}")
    ])
    assert outcomes == ["refused"]
    assert signup.is_pending and store.counts() == counts
    (record,) = [r for r in caplog.records if "does not take it" in r.getMessage()]
    assert (
        record.levelname == "WARNING"
        and f"Ignored a {channel} message" in record.getMessage()
    )


@pytest.mark.parametrize(
    "event",
    [
        Message("telegram", "1" * 65, "/stop"),
        Message("whatsapp", "49 151", "STOP"),
        Message("signal", "+49" + "1" * 64, "link"),
        Blocked("telegram", "1" * 65),
    ],
)
def test_other_commands_from_refused_addresses(store, plone_redis, event):
    counts = store.counts()
    assert dispatch.apply([event]) == ["refused"]
    assert store.counts() == counts
    transaction.commit()  # replies would be queued now
    assert queued_replies(plone_redis) == []


def test_refused_event_leaves_the_others_of_the_call_standing(store, plone_redis):
    """WhatsApp batches several messages in one call: one refused, the others act."""
    signup = pending(store, "whatsapp")
    transaction.commit()
    outcomes = dispatch.apply([
        Message("whatsapp", "1" * 65, "STOP"),
        Message("whatsapp", "4915112345678", f"START {signup.confirm_token}"),
    ])
    assert outcomes == ["refused", "activated"]
    transaction.commit()
    assert store.get(signup.id).address == "4915112345678"
    ((reply_id, recipient, _text),) = queued_replies(plone_redis)
    assert reply_id.startswith(f"welcome-{signup.id}-")


def test_refusal_from_inside_the_store_is_undone(store, plone_redis, caplog):
    """A record the store's checks no longer accept (here a topic id from an older version)
    makes the merge on confirmation raise SubscriberError half-way: that message is undone
    to its savepoint and logged, the call answered."""
    existing = store.activate(pending(store), address="4711")
    existing.topics = ("Alte Rubrik",)  # not a topic id any more
    signup = pending(store)
    transaction.commit()
    counts = store.counts()

    outcomes = dispatch.apply([
        Message("telegram", "4711", f"/start {signup.confirm_token}"),
        Message("telegram", "4712", "/stop"),
    ])
    assert outcomes == ["refused", "not-subscribed"]
    transaction.commit()
    assert store.get(signup.id).is_pending
    assert (
        store.get(existing.id).topics == ("Alte Rubrik",) and store.counts() == counts
    )
    (record,) = [r for r in caplog.records if "does not take it" in r.getMessage()]
    assert (
        "is not a topic id" in record.getMessage() and "4711" not in record.getMessage()
    )
    assert len(queued_replies(plone_redis)) == 1  # the answer to 4712 only
