"""The settings contract: what Plone publishes to Redis and how workers read it.

Plone owns the settings (control panel, registry). Saving them writes one JSON document to
the hash ``keys.SETTINGS_KEY`` together with an increasing version, atomically. A worker
keeps the document in memory and re-reads it only when the version changed, so checking
for new settings costs one ``HGET`` per job.

Secrets may instead live in the environment of each process (``MESSENGER_TELEGRAM_BOT_TOKEN``
and so on, see ``secret_variable``); a value from the environment wins over a published one.
"""

import hashlib
import json
import os

from messenger_worker import keys

SETTINGS_SCHEMA = 1

CHANNELS = ("telegram", "whatsapp", "signal", "threema")

# Per channel, the settings that are secrets: never shown back in a form, never readable
# through REST by anyone but a Manager, and overridable from the environment.
SECRET_FIELDS = {
    "telegram": ("bot_token", "webhook_secret"),
    "whatsapp": ("access_token", "app_secret", "verify_token"),
    "signal": ("webhook_secret",),
    "threema": ("api_secret",),
}

# Secrets only Plone uses (to check incoming webhooks): they are never published to Redis,
# a worker has no use for them and whoever reads Redis could forge webhooks with them.
PLONE_ONLY_SECRETS = {
    "telegram": ("webhook_secret",),
    "whatsapp": ("app_secret", "verify_token"),
    "signal": ("webhook_secret",),
}

# Increment the version and store the document in one step, so that a reader never sees
# a new version paired with an old document.
_PUBLISH_SCRIPT = """
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'json', ARGV[1], 'digest', ARGV[2])
return version
"""


def secret_variable(channel, field):
    """Environment variable that may hold a secret, e.g. MESSENGER_TELEGRAM_BOT_TOKEN."""
    return f"MESSENGER_{channel}_{field}".upper()


def secret_from_environment(channel, field, environ=None):
    environ = os.environ if environ is None else environ
    return environ.get(secret_variable(channel, field)) or None


def apply_environment_secrets(document, environ=None):
    """Return ``document`` with secrets from the environment filled in over published ones."""
    channels = document.get("channels", {})
    for channel, fields in SECRET_FIELDS.items():
        for field in fields:
            value = secret_from_environment(channel, field, environ)
            if value is not None:
                channels.setdefault(channel, {})[field] = value
    return document


def canonical_json(document):
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def digest(document):
    """Fingerprint of a settings document, to tell whether workers have the current one."""
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def publish(connection, document):
    """Publish ``document`` for all workers; returns the new version number."""
    payload = canonical_json(document)
    version = connection.eval(
        _PUBLISH_SCRIPT, 1, keys.SETTINGS_KEY, payload, digest(document)
    )
    return int(version)


def published_state(connection):
    """(version, digest) of the published settings, or (0, None) when none were published."""
    version, fingerprint = connection.hmget(keys.SETTINGS_KEY, "version", "digest")
    return int(version or 0), fingerprint.decode("ascii") if fingerprint else None


class SettingsMissing(RuntimeError):
    """No settings were ever published to this Redis."""


class SettingsCache:
    """The current settings for one worker process, reloaded when their version changes."""

    def __init__(self, connection, environ=None):
        self.connection = connection
        self.environ = environ
        self.version = 0
        self.document = None

    def current(self):
        """The settings document (with environment secrets applied), or None if unpublished."""
        version = int(self.connection.hget(keys.SETTINGS_KEY, "version") or 0)
        if version != self.version or self.document is None:
            version, raw = self.connection.hmget(keys.SETTINGS_KEY, "version", "json")
            self.version = int(version or 0)
            self.document = (
                apply_environment_secrets(json.loads(raw), self.environ)
                if raw
                else None
            )
        return self.document

    def require(self):
        """The settings document; raises SettingsMissing, saying what to do, if there is none."""
        document = self.current()
        if document is None:
            raise SettingsMissing(
                "No messenger settings in Redis. Save the Messenger control panel or press "
                "'Publish settings to workers'."
            )
        return document


# What a channel needs before it can send; a worker pauses an enabled channel that lacks any.
REQUIRED_FIELDS = {
    "telegram": ("bot_username", "bot_token"),
    "whatsapp": ("phone_number_id", "business_number", "access_token", "template_name"),
    "signal": ("api_url", "sender_number"),
    "threema": ("gateway_id", "api_secret"),
}


def missing_fields(document, channel):
    """Names of the settings ``channel`` needs but lacks in ``document``."""
    values = document.get("channels", {}).get(channel, {})
    return [field for field in REQUIRED_FIELDS[channel] if not values.get(field)]
