"""The Redis client of this Zope process: one connection pool per configured URL."""

from messenger_worker.connection import connect
from messenger_worker.connection import redis_url

# Short timeouts: a page must report an unreachable Redis, not hang on it.
TIMEOUT_SECONDS = 2.0

_clients = {}


def get_redis():
    """A client for ``MESSENGER_REDIS_URL``, read on every call so tests can point it elsewhere."""
    url = redis_url()
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = connect(url, timeout=TIMEOUT_SECONDS)
    return client
