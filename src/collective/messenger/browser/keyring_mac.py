"""HMACs keyed by the site's keyring (plone.keyring, the keys plone.protect rotates).

Tokens for anonymous visitors sign with the current key of the ``_anon`` ring (the
``_system`` ring on sites that have none) and stay valid while the signing key is still
in the ring, so a page left open for a day keeps working after a rotation.
"""

import hashlib
import hmac

from plone.keyring.interfaces import IKeyManager
from zope.component import getUtility

RING = "_anon"


def _ring():
    manager = getUtility(IKeyManager)
    try:
        return manager[RING]
    except KeyError:
        return manager["_system"]


def _mac(key, purpose, message):
    return hmac.new(
        key.encode("utf-8"), purpose + message.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def sign(purpose, message):
    """The HMAC of ``message`` for ``purpose`` (bytes) with the ring's current key."""
    return _mac(_ring().current, purpose, message)


def verify(purpose, message, value):
    """Whether ``value`` is the HMAC of ``message`` under any key still in the ring."""
    if not isinstance(value, str) or not value:
        return False
    return any(
        hmac.compare_digest(_mac(key, purpose, message), value)
        for key in _ring()
        if key is not None
    )
