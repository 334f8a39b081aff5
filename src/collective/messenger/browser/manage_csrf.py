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

from collective.messenger.browser import keyring_mac

FIELD = "manage_authenticator"
PURPOSE = b"collective.messenger.manage:"


def form_token(manage_token):
    return keyring_mac.sign(PURPOSE, manage_token)


def is_valid(manage_token, value):
    return keyring_mac.verify(PURPOSE, manage_token, value)
