"""Publishing an item makes one post: outbox in the transaction, Redis after commit, drains later."""

import math
import os
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
import transaction
from DateTime import DateTime
from plone import api
from rq import Queue
from rq.serializers import JSONSerializer
from status_support import news
from status_support import prepare
from status_support import publish
from status_support import subscribe
from zope.event import notify
from zope.lifecycleevent import ObjectModifiedEvent

from collective.messenger.publishing import dispatch
from collective.messenger.publishing import sending
from collective.messenger.publishing.outbox import get_outbox
from collective.messenger.publishing.snapshot import plan_post
from collective.messenger.subscribers import get_store
from messenger_worker import fanout
from messenger_worker import keys
from messenger_worker.connection import REDIS_URL_VARIABLE
from messenger_worker.ledger import GONE_KEY
from messenger_worker.ledger import post_key
from messenger_worker.ledger import read_stats


@pytest.fixture
def portal(site):
    return prepare(site)


def queued_jobs(redis):
    return sum(
        Queue(name, connection=redis, serializer=JSONSerializer).count
        for name in keys.QUEUES
    )


def test_first_publication_hands_one_post_to_redis_after_commit(portal, plone_redis):
    subscribe(range(1001, 1004))
    subscribe([2001], topics=("veranstaltungen",))
    item = news(portal)
    api.content.transition(obj=item, transition="publish")
    [entry] = get_outbox().entries_for(item.UID())
    assert entry.kind == "initial" and dict(entry.recipients) == {"telegram": 3}
    assert not plone_redis.exists(post_key(entry.post_id))  # nothing before commit
    transaction.commit()
    assert plone_redis.exists(post_key(entry.post_id))
    assert read_stats(plone_redis, entry.post_id)["telegram"]["queued"] == 3
    assert queued_jobs(plone_redis) == 1
    assert dispatch.live_state(entry) == "queued"
    assert (
        entry.post["title"] == item.Title() and entry.post["url"] == item.absolute_url()
    )
    assert entry.post["teaser"] == item.Description()


def test_aborted_publication_sends_nothing(portal, plone_redis):
    subscribe([1001])
    item = news(portal)
    api.content.transition(obj=item, transition="publish")
    transaction.abort()
    assert plone_redis.keys("messenger:post:*") == []
    assert get_outbox().entries_for(item.UID()) == []


def test_without_topics_or_switched_off_nothing_is_sent(portal, plone_redis):
    subscribe([1001])
    publish(news(portal, topics=()))
    item = news(portal, title="Nur auf der Website")
    item.messenger_send = False
    transaction.commit()
    publish(item)
    assert plone_redis.keys("messenger:post:*") == []


def test_republishing_after_retract_does_not_resend_until_asked(portal, plone_redis):
    subscribe([1001])
    item = news(portal)
    publish(item)
    api.content.transition(obj=item, transition="retract")
    transaction.commit()
    publish(item)
    assert len(get_outbox().entries_for(item.UID())) == 1
    entry = sending.send_again(item)
    transaction.commit()
    assert entry.kind == "again" and entry.post_id.endswith("-2")
    assert plone_redis.exists(post_key(entry.post_id))


def test_editing_a_published_item_does_not_send_but_send_update_does(
    portal, plone_redis
):
    subscribe([1001])
    item = news(portal)
    publish(item)
    item.title = "Hauptstraße wieder frei"
    notify(ObjectModifiedEvent(item))
    transaction.commit()
    assert len(get_outbox().entries_for(item.UID())) == 1
    entry = sending.send_update(item)
    transaction.commit()
    assert entry.post["update"] is True
    assert entry.post["title"] == "Update: Hauptstraße wieder frei"


def test_send_refused_for_unpublished_items(portal):
    item = news(portal)
    with pytest.raises(sending.SendRefused):
        sending.send_update(item)


def test_future_effective_date_schedules_moves_and_cancels(portal, plone_redis):
    subscribe([1001])
    tomorrow = DateTime() + 1
    item = news(portal, effective_date=tomorrow)
    publish(item)
    [entry] = get_outbox().entries_for(item.UID())
    assert abs((entry.due - tomorrow.asdatetime()).total_seconds()) < 1
    assert fanout.scheduled_batches(plone_redis, entry.post_id) == 1
    assert queued_jobs(plone_redis) == 0
    assert dispatch.live_state(entry) == "scheduled"

    item.effective_date = tomorrow + 1
    notify(ObjectModifiedEvent(item))
    transaction.commit()
    assert abs((entry.due - (tomorrow + 1).asdatetime()).total_seconds()) < 1
    assert fanout.scheduled_batches(plone_redis, entry.post_id) == 1
    registry_times = [
        score
        for name in keys.QUEUES
        for _job, score in plone_redis.zrange(
            f"rq:scheduled:{name}", 0, -1, withscores=True
        )
    ]
    # RQ keeps whole seconds; the release is rounded up, never early.
    assert [int(t) for t in registry_times] == [math.ceil((tomorrow + 1).timeTime())]

    api.content.transition(obj=item, transition="retract")
    transaction.commit()
    assert entry.state == "cancelled"
    assert fanout.scheduled_batches(plone_redis, entry.post_id) == 0
    assert not plone_redis.exists(post_key(entry.post_id))


def test_moving_the_effective_date_into_the_past_sends_now(portal, plone_redis):
    subscribe([1001])
    item = news(portal, effective_date=DateTime() + 1)
    publish(item)
    item.effective_date = DateTime() - 1
    notify(ObjectModifiedEvent(item))
    transaction.commit()
    [entry] = get_outbox().entries_for(item.UID())
    assert fanout.scheduled_batches(plone_redis, entry.post_id) == 0
    assert queued_jobs(plone_redis) == 1


def test_expired_item_does_not_send(portal, plone_redis):
    subscribe([1001])
    item = news(portal, expiration_date=DateTime() - 1)
    publish(item)
    [entry] = get_outbox().entries_for(item.UID())
    assert entry.state == "skipped" and entry.reason == "expired"
    assert plone_redis.keys("messenger:post:*") == []


def test_redis_down_at_publish_keeps_the_post_and_the_drain_sends_it_once(
    portal, plone_redis
):
    subscribe(range(1001, 1011))
    item = news(portal)
    real_url = os.environ[REDIS_URL_VARIABLE]
    os.environ[REDIS_URL_VARIABLE] = "redis://127.0.0.1:9/0"  # nothing listens there
    try:
        publish(item)  # the transition succeeds
        [entry] = get_outbox().entries_for(item.UID())
        assert dispatch.live_state(entry) == "waiting"
        assert dispatch.drain() == {
            "dispatched": 0,
            "cancelled": 0,
            "skipped": 0,
            "waiting": 1,
        }
    finally:
        os.environ[REDIS_URL_VARIABLE] = real_url
    assert plone_redis.keys("messenger:post:*") == []
    result = dispatch.drain()
    transaction.commit()
    assert result["dispatched"] == 1 and result["waiting"] == 0
    assert read_stats(plone_redis, entry.post_id)["telegram"]["queued"] == 10
    assert entry.state == "queued" and entry.synced
    assert dispatch.drain()["dispatched"] == 0  # nothing doubled
    assert queued_jobs(plone_redis) == 1


def test_next_publication_drains_the_outbox(portal, plone_redis):
    subscribe([1001])
    first = news(portal, title="Erste")
    real_url = os.environ[REDIS_URL_VARIABLE]
    os.environ[REDIS_URL_VARIABLE] = "redis://127.0.0.1:9/0"
    try:
        publish(first)
    finally:
        os.environ[REDIS_URL_VARIABLE] = real_url
    publish(news(portal, title="Zweite"))
    titles = sorted(
        key.decode()
        for key in plone_redis.keys("messenger:post:*")
        if key.count(b":") == 2
    )
    assert len(titles) == 2


def test_gone_recipients_are_never_fanned_out_again(portal, plone_redis):
    [kept, gone] = subscribe([1001, 1002])
    plone_redis.hset(GONE_KEY, f"telegram:{gone.id}", '{"reason": "blocked"}')
    item = news(portal)
    publish(item)
    [entry] = get_outbox().entries_for(item.UID())
    assert dict(entry.recipients) == {"telegram": 1}
    assert get_store().get(gone.id).state == "unreachable"
    assert not plone_redis.exists(GONE_KEY)


def test_recent_posts_newest_first(portal, plone_redis):
    subscribe([1001])
    for title in ("Eins", "Zwei", "Drei"):
        publish(news(portal, title=title))
    assert [e.title for e in get_outbox().recent(2)] == ["Drei", "Zwei"]


def test_one_plan_says_post_due_expiry_recipients_and_counts(portal):
    subscribe([1001, 1002])
    subscribe(["+4915112345678"], channel="signal")
    subscribe([2001], topics=("veranstaltungen",))
    tomorrow = DateTime() + 1
    item = news(portal, effective_date=tomorrow, expiration_date=tomorrow + 2)
    plan = plan_post(item, "update", "p-7", lead="Jetzt bis Freitag")
    assert (
        plan.post.id == "p-7"
        and plan.post.update
        and plan.post.teaser.startswith("Jetzt bis Freitag\n\n")
    )
    assert (
        abs((plan.due - tomorrow.asdatetime()).total_seconds()) < 1
        and plan.due.tzinfo is not None
    )
    assert not plan.expired
    assert sorted(row[1] for row in plan.recipients) == [
        "signal",
        "telegram",
        "telegram",
    ]
    assert plan.counts == {"telegram": 2, "signal": 1}
    # "Send now" gives its own time; an item expired by then says so.
    now = datetime.now(timezone.utc)
    assert plan_post(item, "initial", "p-8", due=now).due == now
    assert plan_post(item, "initial", "p-9", due=now + timedelta(days=4)).expired


def test_due_is_aware_utc(portal):
    item = news(portal)
    publish(item)
    [entry] = get_outbox().entries_for(item.UID())
    assert entry.due.tzinfo is not None
    assert abs(entry.due - datetime.now(timezone.utc)) < timedelta(minutes=1)


def test_leaving_and_coming_back_is_told_to_the_workers(portal, plone_redis):
    [person] = subscribe([1001])
    store = get_store()
    store.unsubscribe(person)
    assert not plone_redis.exists(keys.LEFT_KEY)  # after commit only
    transaction.commit()
    assert plone_redis.zscore(keys.LEFT_KEY, person.id) is not None
    again = store.add_pending(
        "telegram",
        ["baustellen-verkehr"],
        "de",
        {"privacy_version": "v1", "path": "page"},
    )
    store.activate(again, address="1001")
    transaction.commit()
    assert plone_redis.zscore(keys.LEFT_KEY, person.id) is None
