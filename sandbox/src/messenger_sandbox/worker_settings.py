"""The settings a worker needs to talk to the sandbox, shaped like the channel part of the
settings document (worker/README.md)."""

from messenger_sandbox import config as sandbox_config

DEFAULT_URL = "http://127.0.0.1:8099"


def channel_settings(channel, base_url=DEFAULT_URL, config=None):
    """One channel's settings, e.g. ``channel_settings("telegram", sandbox.url)``."""
    config = config or sandbox_config.DEFAULTS
    settings = config[channel]
    common = {
        "enabled": True,
        "api_url": f"{base_url.rstrip('/')}/{channel}",
        "rate": sandbox_config.WORKER_RATES[channel],
    }
    if channel == "telegram":
        return dict(
            common,
            bot_token=settings["token"],
            bot_username=settings["bot_username"],
            webhook_secret=settings["webhook_secret"],
        )
    if channel == "whatsapp":
        templates = settings["templates"]
        # The broadcast template has no header; posts with an image go out as one with an image header.
        template = next(
            (name for name, known in templates.items() if not known.get("header")), ""
        )
        image_template = next(
            (
                name
                for name, known in templates.items()
                if known.get("header") == "image"
            ),
            "",
        )
        languages = templates.get(template, {}).get("languages") or ["de"]
        return dict(
            common,
            api_version=settings["api_version"],
            phone_number_id=settings["phone_number_id"],
            business_number=settings["business_number"],
            access_token=settings["access_token"],
            app_secret=settings["app_secret"],
            verify_token=settings["verify_token"],
            template_name=template,
            image_template_name=image_template,
            template_language=languages[0],
        )
    if channel == "signal":
        return dict(common, sender_number=settings["number"])
    if channel == "threema":
        return dict(
            common, gateway_id=settings["gateway_id"], api_secret=settings["secret"]
        )
    raise ValueError(
        f"Unknown channel {channel!r}; known: {', '.join(sandbox_config.CHANNELS)}"
    )


def settings_document(base_url=DEFAULT_URL, config=None):
    """A whole settings document (schema 1) with all four channels pointing at the sandbox."""
    return {
        "schema": 1,
        "channels": {
            channel: channel_settings(channel, base_url, config)
            for channel in sandbox_config.CHANNELS
        },
        "topics": [],
        "templates": {},
        "phone_region": "DE",
    }
