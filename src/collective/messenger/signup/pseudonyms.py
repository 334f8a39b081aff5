"""Keyed hashes for Redis key names that would otherwise name a phone number, an IP address
or a token.

A plain SHA-256 of a phone number is no protection: Germany has a few hundred million
possible mobile numbers, hashed in minutes. The key is a random secret kept in the site's
annotations, so a copy of Redis alone tells nobody whose counters it holds, and every Zope
instance of the site computes the same names.

The key is made on first use in a short transaction of its own: the request that needs it
may be a GET or one whose changes are thrown away (a 404 of the REST API), and a key that
vanished with such a request would give every request different names.
"""

import hashlib
import hmac
import secrets

import transaction
from persistent.mapping import PersistentMapping
from plone import api
from ZODB.POSException import ConflictError
from zope.annotation.interfaces import IAnnotations

ANNOTATION_KEY = "collective.messenger.pseudonym_key"


def _key(site=None):
    site = site if site is not None else api.portal.get()
    record = IAnnotations(site).get(ANNOTATION_KEY)
    if record is None:
        return _make_key(site)
    return record["key"].encode("ascii")


def _make_key(site):
    """Store a new key in a transaction of its own (or read the one another request stored)."""
    manager = transaction.TransactionManager()
    connection = site._p_jar.db().open(transaction_manager=manager)
    try:
        for _attempt in range(3):
            manager.begin()
            annotations = IAnnotations(connection.get(site._p_oid))
            record = annotations.get(ANNOTATION_KEY)
            if record is not None:
                return record["key"].encode("ascii")
            key = secrets.token_hex(32)
            annotations[ANNOTATION_KEY] = PersistentMapping({"key": key})
            manager.get().note("collective.messenger: key for Redis key names")
            try:
                manager.commit()
                return key.encode("ascii")
            except ConflictError:
                manager.abort()
        raise ConflictError("Could not store the key for Redis key names.")
    finally:
        manager.abort()
        connection.close()


def pseudonym(purpose, value, site=None):
    """32 hex digits naming ``value`` for ``purpose`` ("limit-code", "answer", ...) in a Redis key."""
    message = f"{purpose}:{value}".encode()
    return hmac.new(_key(site), message, hashlib.sha256).hexdigest()[:32]
