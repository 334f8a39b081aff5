"""Where Redis is: one environment variable for Plone and every worker.

``MESSENGER_REDIS_URL`` may carry an ACL user and a password
(``redis://worker:secret@redis.example:6379/0``) and may ask for TLS (``rediss://``). For
TLS the CA that signed the server's certificate comes from ``MESSENGER_REDIS_CA_FILE``
(else the system's CAs), a client certificate from ``MESSENGER_REDIS_CERT_FILE`` and
``MESSENGER_REDIS_KEY_FILE`` when the server asks for one (``tls-auth-clients``).
"""

import os
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import redis

REDIS_URL_VARIABLE = "MESSENGER_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
CA_FILE_VARIABLE = "MESSENGER_REDIS_CA_FILE"
CERT_FILE_VARIABLE = "MESSENGER_REDIS_CERT_FILE"
KEY_FILE_VARIABLE = "MESSENGER_REDIS_KEY_FILE"

# Redis ACL rules for the two kinds of clients (README, "Operating: a hardened Redis"; the
# tests run against a server with exactly these). Both reach only the project's keys and
# RQ's, run no administrative or dangerous command (no FLUSHALL, CONFIG, KEYS, DEBUG, ACL,
# MONITOR, CLIENT KILL), but INFO for the health box. Zope never waits on a queue; workers
# also block on queues and listen on RQ's command channels.
ZOPE_ACL_RULES = (
    "resetkeys ~messenger:* ~rq:* resetchannels -@all +@read +@write +@transaction "
    "+@scripting +@connection -@blocking -@dangerous -@admin -function +info +time"
)
WORKER_ACL_RULES = (
    "resetkeys ~messenger:* ~rq:* resetchannels &rq:pubsub:* -@all +@read +@write "
    "+@transaction +@scripting +@connection +@blocking +@pubsub -@dangerous -@admin "
    "-function +info +time"
)


def redis_url(environ=None):
    environ = os.environ if environ is None else environ
    return environ.get(REDIS_URL_VARIABLE) or DEFAULT_REDIS_URL


def tls_options(url, environ=None):
    """redis-py options for a ``rediss://`` URL, from the environment; {} for plain ``redis://``.

    The server's certificate and host name are always checked: a TLS connection that
    accepted any certificate would hand the password to whoever answers.
    """
    if urlsplit(url).scheme != "rediss":
        return {}
    environ = os.environ if environ is None else environ
    options = {"ssl_cert_reqs": "required", "ssl_check_hostname": True}
    for variable, option in (
        (CA_FILE_VARIABLE, "ssl_ca_certs"),
        (CERT_FILE_VARIABLE, "ssl_certfile"),
        (KEY_FILE_VARIABLE, "ssl_keyfile"),
    ):
        if environ.get(variable):
            options[option] = environ[variable]
    return options


def connect(url=None, timeout=5.0, environ=None):
    """A client for ``url`` (default: from the environment).

    Timeouts are short on purpose: a web request that publishes settings must not hang
    when Redis is down, it must report it.
    """
    url = url or redis_url(environ)
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        health_check_interval=30,
        **tls_options(url, environ),
    )


def display_url(url=None):
    """The Redis URL without its password, safe to show in pages and logs."""
    parts = urlsplit(url or redis_url())
    if parts.password is None:
        return parts.geturl()
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
