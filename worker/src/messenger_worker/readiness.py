"""Whether a channel may send now: the checks before every post batch and every reply.

Both kinds of job ask the same questions in the same order, so a channel switched off,
lacking settings or paused treats posts and replies alike.
"""

from typing import NamedTuple

from messenger_worker import settings as settings_contract


class Readiness(NamedTuple):
    # The channel's settings from the document.
    settings: dict
    # Why nothing may be sent on it at all: the job fails with this reason.
    off: str | None
    # The channel's pause record: the job waits and looks again.
    pause: dict | None


def channel_readiness(document, channel, pauses, settings_version):
    """``channel``'s settings and whether it is switched off or paused.

    Missing settings (a bot token, a number) pause the channel with a reason an admin can
    act on, as a refused token does; the pause ends with the next published settings.
    """
    channel_settings = document.get("channels", {}).get(channel, {})
    if not channel_settings.get("enabled"):
        off = f"The {channel} channel is switched off in the control panel."
        return Readiness(channel_settings, off, None)
    missing = settings_contract.missing_fields(document, channel)
    if missing:
        pauses.pause(
            channel, f"Settings missing: {', '.join(missing)}.", settings_version
        )
    return Readiness(channel_settings, None, pauses.current(channel, settings_version))
