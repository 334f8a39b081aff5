"""Shared by the status, preview and dashboard tests: items with the messenger behavior,
subscribers, publishing, and a worker run in this process against the sandbox."""

import lxml.html
import transaction
from plone import api
from plone.app.testing import setRoles
from plone.app.testing import TEST_USER_ID
from rq import Queue
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from zope.component.hooks import setSite
from zope.globalrequest import setRequest

from collective.messenger.demo.sandbox import use_sandbox
from collective.messenger.subscribers import Consent
from collective.messenger.subscribers import get_store
from messenger_worker import keys
from messenger_worker.fanout import DELIVER_BATCH

BEHAVIOR = "collective.messenger.push"
TOPIC = "baustellen-verkehr"


def prepare(site, sandbox=None, channels=("telegram", "signal")):
    """The site as a test needs it: News Items with the behavior; ``channels`` at the sandbox."""
    setSite(site)
    setRequest(site.REQUEST)
    setRoles(site, TEST_USER_ID, ["Manager"])
    fti = site.portal_types["News Item"]
    if BEHAVIOR not in fti.behaviors:
        fti.behaviors += (BEHAVIOR,)
    if sandbox is not None:
        use_sandbox(sandbox.url, channels=channels, site=site)
    transaction.commit()  # publishes the settings to the workers
    return site


def subscribe(addresses, channel="telegram", topics=(TOPIC,)):
    store = get_store()
    people = []
    for address in addresses:
        pending = store.add_pending(
            channel,
            list(topics),
            "de",
            Consent("v1", "page"),
            address=str(address) if channel in ("signal", "threema") else None,
        )
        people.append(
            store.activate(
                pending,
                address=None if channel in ("signal", "threema") else str(address),
            )
        )
    transaction.commit()
    return people


def news(
    site, title="Vollsperrung der Hauptstraße", topics=(TOPIC,), send=True, **values
):
    item = api.content.create(
        container=site,
        type="News Item",
        title=title,
        description="Vom 23. bis 27. November ist die Hauptstraße gesperrt.",
        **values,
    )
    item.messenger_topics = list(topics)
    item.messenger_send = send
    transaction.commit()
    return item


def publish(item):
    api.content.transition(obj=item, transition="publish")
    transaction.commit()


def run_worker(connection):
    """Run every queued job in this process (RQ's SimpleWorker, burst): the real job code."""
    worker = SimpleWorker(
        [
            Queue(name, connection=connection, serializer=JSONSerializer)
            for name in keys.QUEUES
        ],
        connection=connection,
        serializer=JSONSerializer,
    )
    worker.work(burst=True)


def failing_batch(
    connection, post_id, queue=keys.QUEUE_DEFAULT, title="Vollsperrung Hauptstraße"
):
    """A batch of a post whose snapshot is missing: it fails when a worker runs it."""
    job = Queue(queue, connection=connection, serializer=JSONSerializer).enqueue(
        DELIVER_BATCH,
        post_id,
        "telegram",
        [],
        0,
        job_id=f"msg-{post_id}-telegram-0",
        description=f"{title} (telegram 1)",
        failure_ttl=3600,
    )
    return job.id


def authenticator(html):
    return lxml.html.fromstring(html).xpath('//input[@name="_authenticator"]/@value')[0]


def status_box(html):
    """The Messenger box of a page, or None."""
    found = lxml.html.fromstring(html).xpath('//section[@id="messenger-status"]')
    return found[0] if found else None


def text_of(element):
    return " ".join(element.text_content().split())
