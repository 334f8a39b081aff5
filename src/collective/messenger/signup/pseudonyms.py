"""Keyed hashes for Redis key names that would otherwise name a phone number, an IP address
or a token.

A plain SHA-256 of a phone number is no protection: Germany has a few hundred million
possible mobile numbers, hashed in minutes. The key is a random secret kept in the site
(made on first use), so a copy of Redis alone tells nobody whose counters it holds, and
every Zope instance of the site computes the same names.
"""

import hashlib
import hmac
import secrets

from persistent.mapping import PersistentMapping
from plone import api
from plone.protect.utils import safeWrite
from zope.annotation.interfaces import IAnnotations
from zope.globalrequest import getRequest

ANNOTATION_KEY = "collective.messenger.pseudonym_key"


def _key(site=None):
    site = site if site is not None else api.portal.get()
    annotations = IAnnotations(site)
    record = annotations.get(ANNOTATION_KEY)
    if record is None:
        record = annotations[ANNOTATION_KEY] = PersistentMapping({"key": secrets.token_hex(32)})
        # Also made on a GET (the first manage-page look-up): a write plone.protect must allow.
        request = getRequest()
        safeWrite(site, request)
        safeWrite(site.__annotations__, request)
    return record["key"].encode("ascii")


def pseudonym(purpose, value, site=None):
    """32 hex digits naming ``value`` for ``purpose`` ("code", "signup", ...) in a Redis key."""
    message = f"{purpose}:{value}".encode("utf-8")
    return hmac.new(_key(site), message, hashlib.sha256).hexdigest()[:32]
