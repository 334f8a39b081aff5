"""Channel-wide pauses: a rejected token, no credits, missing settings.

A paused channel's batches wait (they are rescheduled, not failed) and admins see the pause
and its reason in the control panel. A pause ends when an admin publishes new settings (the
version changes) or after ``PAUSE_SECONDS``, when the next batch tries again and pauses anew
if the platform still refuses.
"""

import json
import time

from messenger_worker.settings import CHANNELS

PAUSE_SECONDS = 300


def pause_key(channel):
    return f"messenger:paused:{channel}"


class ChannelPauses:
    def __init__(self, connection):
        self.connection = connection

    def pause(self, channel, reason, settings_version=None):
        record = {
            "reason": reason,
            "since": round(time.time(), 3),
            "settings_version": settings_version,
        }
        self.connection.set(pause_key(channel), json.dumps(record), ex=PAUSE_SECONDS)

    def current(self, channel, settings_version=None):
        """The pause record of ``channel``, or None; a pause from older settings is lifted."""
        raw = self.connection.get(pause_key(channel))
        if raw is None:
            return None
        record = json.loads(raw)
        paused_under = record.get("settings_version")
        if (
            settings_version is not None
            and paused_under is not None
            and paused_under != settings_version
        ):
            self.connection.delete(pause_key(channel))
            return None
        return record

    def all(self):
        """{channel: record} of every paused channel, for status pages."""
        values = self.connection.mget([pause_key(channel) for channel in CHANNELS])
        return {c: json.loads(v) for c, v in zip(CHANNELS, values) if v is not None}
