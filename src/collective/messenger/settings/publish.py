"""Publish the settings to Redis for the workers, after the transaction commits.

Any change (control panel form, REST, GenericSetup import, a secret) schedules one
publication per transaction. The document is taken just before commit, when every change
of the request is in, and written to Redis only after a successful commit: a request that
Zope retries after a ConflictError, or one that fails, never publishes settings that were
not stored.
"""

import logging

import redis
import transaction
from zope.component.hooks import getSite
from zope.component.hooks import site as site_context

from collective.messenger.redis_client import get_redis
from collective.messenger.settings.access import worker_document
from collective.messenger.settings.schema import REGISTRY_PREFIX
from messenger_worker.connection import display_url
from messenger_worker.settings import publish

log = logging.getLogger("collective.messenger")


def publish_now(site=None):
    """Publish the current settings; returns the new version. Raises redis.RedisError."""
    version = publish(get_redis(), worker_document(site))
    log.info("Published messenger settings version %s to %s", version, display_url())
    return version


def _after_commit(succeeded, document):
    if not succeeded:
        return
    try:
        version = publish(get_redis(), document)
    except redis.RedisError as error:
        log.warning(
            "Messenger settings were saved but not published to Redis at %s (%s). Workers "
            "keep their previous settings until you press 'Publish settings to workers' in "
            "Site Setup > Messenger.",
            display_url(),
            error,
        )
    else:
        log.info(
            "Published messenger settings version %s to %s", version, display_url()
        )


def _before_commit(site):
    try:
        # Commit may run outside the request's site hook (e.g. at the end of a script).
        with site_context(site):
            document = worker_document(site)
    except Exception:
        # Never fail the commit over publication (e.g. the records are being uninstalled).
        log.exception(
            "Could not build the messenger settings document; not publishing."
        )
        return
    transaction.get().addAfterCommitHook(_after_commit, args=(document,))


def publish_after_commit():
    """Schedule publication of the settings once the current transaction has committed."""
    txn = transaction.get()
    if any(hook is _before_commit for hook, _args, _kws in txn.getBeforeCommitHooks()):
        return
    txn.addBeforeCommitHook(_before_commit, args=(getSite(),))


def record_modified(event):
    """Subscriber: a registry record changed; publish if it is one of ours."""
    record = getattr(event, "record", None)
    if record is not None and record.__name__.startswith(REGISTRY_PREFIX + "."):
        publish_after_commit()


def secret_modified(event):
    publish_after_commit()
