"""Channel modules, one per platform, behind ``base.Channel``."""

import importlib

CHANNEL_MODULES = {
    "telegram": "messenger_worker.channels.telegram",
    "whatsapp": "messenger_worker.channels.whatsapp",
    "signal": "messenger_worker.channels.signal",
    "threema": "messenger_worker.channels.threema",
}


def channel_class(name):
    """The Channel subclass for ``name`` (telegram, whatsapp, signal, threema)."""
    try:
        module = importlib.import_module(CHANNEL_MODULES[name])
    except KeyError:
        raise ValueError(
            f"Unknown channel {name!r}; known: {', '.join(CHANNEL_MODULES)}"
        ) from None
    return module.CHANNEL
