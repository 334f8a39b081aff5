"""Point the channels at the messenger sandbox: for the demo and the tests, never for production."""

from collective.messenger.settings.access import MessengerSettings
from messenger_sandbox.worker_settings import channel_settings
from messenger_worker.settings import CHANNELS

# The sandbox needs no real receive secret; a fixed one keeps the demo's URL stable.
SANDBOX_SIGNAL_WEBHOOK_SECRET = "sandbox-signal-receive-secret-0123456789"


def use_sandbox(base_url, channels=CHANNELS, site=None):
    """Enable ``channels`` with the sandbox's accounts and secrets at ``base_url``.

    Changes the registry and the stored secrets; the settings are published to the
    workers when the transaction commits.
    """
    settings = MessengerSettings(site)
    for channel in channels:
        values = channel_settings(channel, base_url)
        if channel == "signal":
            values["webhook_secret"] = SANDBOX_SIGNAL_WEBHOOK_SECRET
        for key, value in values.items():
            setattr(settings, f"{channel}_{key}", value)
    return settings
