"""The Plone site that ``bench_publish.py`` measures; a ``zconsole run`` script.

zconsole binds ``app`` (the Zope root, with a request, as the system user) and runs this
file as ``__main__``; importing it does nothing. The plan comes from the JSON file named by
the environment variable BENCH_PUBLISH_PLAN, and what was made (the items' paths and UIDs,
timings) is written back into that file under "made".

Subscribers are added as the webhooks add them (signup, then activation with the Telegram
chat id), committed in chunks. Subscriber n follows every topic whose planned count is
above n, so the topics nest: the 10,000 of one topic are also among the 100,000 of another.
"""

SUBSCRIBER_CHUNK = 5000


def build_site(app, plan):
    import transaction
    from Products.CMFPlone.factory import addPloneSite

    addPloneSite(
        app,
        plan["site_id"],
        title="Bench",
        default_language="de",
        setup_content=False,
        extension_ids=[
            "plone.app.contenttypes:default",
            "collective.messenger:default",
        ],
    )
    transaction.commit()
    return app[plan["site_id"]]


def configure(site, plan):
    """Topics, the Telegram channel on the sandbox with the planned rate; published to Redis on commit."""
    import transaction

    from collective.messenger.demo.sandbox import use_sandbox
    from collective.messenger.settings.access import registry_proxy

    settings = use_sandbox(plan["sandbox_url"], channels=("telegram",), site=site)
    settings.telegram_rate = float(plan["telegram_rate"])
    registry_proxy().topics = [f"{topic} | {topic.title()}" for topic in plan["topics"]]
    transaction.commit()


def add_items(site, plan):
    import transaction
    from plone import api
    from plone.uuid.interfaces import IUUID

    made = []
    for spec in plan["items"]:
        item = api.content.create(
            container=site,
            type="News Item",
            id=spec["id"],
            title=f"Sperrung der Hauptstraße ({spec['id']})",
            description="Wegen Bauarbeiten ist die Hauptstraße bis Freitag gesperrt.",
        )
        item.messenger_topics = [spec["topic"]]
        made.append(
            dict(
                spec,
                path="/".join(item.getPhysicalPath()),
                uid=IUUID(item),
                state=api.content.get_state(item),
            )
        )
    transaction.commit()
    return made


def add_subscribers(site, plan):
    import random
    import time

    import transaction

    from collective.messenger.subscribers import Consent
    from collective.messenger.subscribers import get_store

    counts = plan["topics"]
    total = max(counts.values())
    rng = random.Random(5)
    # Distinct chat ids: a repeated one would be merged into the earlier subscriber.
    chats = rng.sample(range(10**8, 8 * 10**9), total)
    consent = Consent("bench", "page")
    store = get_store()
    connection = site._p_jar
    started = time.perf_counter()
    for number, chat in enumerate(chats):
        topics = [topic for topic, count in counts.items() if count > number]
        subscriber = store.add_pending("telegram", topics, "de", consent)
        store.activate(subscriber, address=str(chat))
        if number % SUBSCRIBER_CHUNK == SUBSCRIBER_CHUNK - 1:
            transaction.commit()
            connection.cacheMinimize()
    transaction.commit()
    seconds = time.perf_counter() - started
    # The number the benchmark measures against: the snapshot, as the publication takes it.
    sizes = {topic: len(store.active_recipients([topic])) for topic in counts}
    return {"seconds": seconds, "total": total, "snapshot_sizes": sizes}


def main(app):
    import json
    import os
    import time

    from zope.component.hooks import site as site_context

    plan_path = os.environ["BENCH_PUBLISH_PLAN"]
    with open(plan_path, encoding="utf-8") as file:
        plan = json.load(file)
    started = time.perf_counter()
    site = build_site(app, plan)
    with site_context(site):
        site_seconds = time.perf_counter() - started
        configure(site, plan)
        items = add_items(site, plan)
        subscribers = add_subscribers(site, plan)
    plan["made"] = {
        "items": items,
        "subscribers": subscribers,
        "site_seconds": site_seconds,
    }
    with open(plan_path, "w", encoding="utf-8") as file:
        json.dump(plan, file, indent=2)
    # Closing writes the FileStorage index, so Zope need not rebuild it on start.
    app._p_jar.db().close()


if __name__ == "__main__":
    main(app)  # noqa: F821 (bound by zconsole)
