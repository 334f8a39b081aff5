"""The Redis client of this Zope process: one connection pool per configured URL."""

from messenger_worker.connection import connect
from messenger_worker.connection import redis_url
from messenger_worker.connection import tls_options

# Short timeouts: a page must report an unreachable Redis, not hang on it.
TIMEOUT_SECONDS = 2.0

_clients = {}


def get_redis():
    """A client for ``MESSENGER_REDIS_URL`` (with its ACL user, password and, for
    ``rediss://``, the TLS files from the environment), read on every call so tests can
    point it elsewhere."""
    url = redis_url()
    key = (url, tuple(sorted(tls_options(url).items())))
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = connect(url, timeout=TIMEOUT_SECONDS)
    return client
