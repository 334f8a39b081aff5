"""CSRF defence for the manage page, whose visitors are anonymous.

plone.protect's automatic check protects logged-in users only, and its token for
anonymous visitors (``createToken``) is the same for every anonymous visitor, so anyone
could read it from their own page. The manage page therefore uses a token bound to the
subscriber: an HMAC of the manage token with a key of the site's keyring (plone.keyring,
the keys plone.protect uses). Only someone who knows the manage token can compute it,
and such a person can use the page anyway; a forged cross-site POST cannot. Keys rotate
(plone.protect rotates the ring daily on logins); older keys stay valid until they leave
the ring, so a page left open for a day still works.
"""

import hashlib
import hmac

from plone.keyring.interfaces import IKeyManager
from zope.component import getUtility

RING = "_anon"
FIELD = "manage_authenticator"
PURPOSE = b"collective.messenger.manage:"


def _ring():
    manager = getUtility(IKeyManager)
    try:
        return manager[RING]
    except KeyError:
        return manager["_system"]


def _mac(key, manage_token):
    return hmac.new(key.encode("utf-8"), PURPOSE + manage_token.encode("utf-8"), hashlib.sha256).hexdigest()


def form_token(manage_token):
    return _mac(_ring().current, manage_token)


def is_valid(manage_token, value):
    if not isinstance(value, str) or not value:
        return False
    return any(
        hmac.compare_digest(_mac(key, manage_token), value) for key in _ring() if key is not None
    )
