"""Random ids and tokens, and the fingerprint that makes a repeated signup idempotent."""

import hashlib
import re
import secrets

# What Telegram accepts as a deep-link start parameter, and what we accept back.
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def new_subscriber_id():
    """12 url-safe characters (72 random bits): short in links and keys, collisions negligible."""
    return secrets.token_urlsafe(9)


def new_confirm_token():
    """32 characters (192 bits): fits Telegram's 64-character start parameter."""
    return secrets.token_urlsafe(24)


def new_manage_token():
    """43 characters (256 bits); drawn independently of the confirm token, and longer."""
    return secrets.token_urlsafe(32)


def is_token(value):
    return isinstance(value, str) and TOKEN_PATTERN.match(value) is not None


def signup_fingerprint(request_key, channel, address, topics, language, mode):
    """The key under which a signup is remembered while pending.

    It binds the caller's request key (a form nonce, an Idempotency-Key header) to what was
    asked for: a replay of the same request finds the first subscriber, while someone who
    reuses another person's nonce with other data gets a signup of their own, never theirs.
    """
    parts = [str(request_key), channel, address or "", ",".join(topics), language, mode]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
