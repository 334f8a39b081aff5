"""Where Redis is: one environment variable for Plone and every worker."""

import os
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import redis

REDIS_URL_VARIABLE = "MESSENGER_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url(environ=None):
    environ = os.environ if environ is None else environ
    return environ.get(REDIS_URL_VARIABLE) or DEFAULT_REDIS_URL


def connect(url=None, timeout=5.0):
    """A client for ``url`` (default: from the environment).

    Timeouts are short on purpose: a web request that publishes settings must not hang
    when Redis is down, it must report it.
    """
    return redis.Redis.from_url(
        url or redis_url(),
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        health_check_interval=30,
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
