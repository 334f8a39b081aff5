"""Reading what Plone queued for the worker: the reply's text, wherever the worker keeps it.

The worker keeps a reply's address and text out of its job (``messenger:reply:<id>:content``,
short-lived); older versions had them in the job's arguments. Tests read either, through
the worker's own API where it has one.
"""

import json

from rq import Queue
from rq.serializers import JSONSerializer

from messenger_worker import keys


def _text_of(redis_client, job):
    reply_id = job.args[0]
    raw = redis_client.get(f"messenger:reply:{reply_id}:content")
    if raw is not None:
        return json.loads(raw)["text"]
    for value in job.args[1:]:
        if isinstance(value, str) and len(value) > 20:
            return value
    return None


def queued_replies(redis_client):
    """{reply id: text} of the reply jobs waiting on the low queue."""
    queue = Queue(keys.QUEUE_LOW, connection=redis_client, serializer=JSONSerializer)
    return {job.args[0]: _text_of(redis_client, job) for job in queue.get_jobs()}
