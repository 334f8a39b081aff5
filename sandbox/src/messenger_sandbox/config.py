"""What the sandbox accepts and how it misbehaves: defaults, and merging changes made at run time.

Everything here is plain JSON so that ``POST /_sandbox/config`` can change any of it. Dicts
merge key by key; lists and scalars replace. ``null`` for ``rate_limit`` means no cap.
"""

import copy

CHANNELS = ("telegram", "whatsapp", "signal", "threema")

# Fault injection and caps every channel understands.
COMMON = {
    "rate_limit": None,  # messages per second the platform allows; None: no cap
    "burst": None,  # token bucket size; None: max(1, rate_limit)
    "error_rate": 0.0,  # share of requests answered with the platform's 5xx
    "latency_ms": 0,  # added to every answer of this platform (without blocking the loop)
    "blocked": [],  # recipients that blocked the bot
    "deactivated": [],  # deleted accounts
    "unknown": [],  # addresses the platform does not know
    "bad_token": False,  # answer every request as if the credentials were wrong
    "webhook_url": "",  # where simulated citizens' messages are posted
}

# Two approved templates, as a site needs them: one with an image header for posts with a
# lead image, one without header for all other posts (Meta refuses a post that does not fit).
DEFAULT_TEMPLATES = {
    "musterstadt_post": {
        "languages": ["de"],
        "category": "MARKETING",
        "status": "APPROVED",
        "header": "image",  # "image", "text" or None
        "body": "Neu aus Musterstadt: {{1}}\n\n{{2}}",
        "footer": "Abmelden: STOP",
        "buttons": [
            {
                "type": "url",
                "text": "Weiterlesen",
                "url": "https://www.musterstadt.de/{{1}}",
            }
        ],
    },
    "musterstadt_post_text": {
        "languages": ["de"],
        "category": "MARKETING",
        "status": "APPROVED",
        "header": None,
        "body": "Neu aus Musterstadt: {{1}}\n\n{{2}}",
        "footer": "Abmelden: STOP",
        "buttons": [
            {
                "type": "url",
                "text": "Weiterlesen",
                "url": "https://www.musterstadt.de/{{1}}",
            }
        ],
    },
}

DEFAULTS = {
    "telegram": dict(
        COMMON,
        token="123456:SANDBOX-TOKEN",
        bot_username="musterstadt_bot",
        bot_name="Musterstadt",
        webhook_secret="SANDBOX-WEBHOOK-SECRET",
        migrated={},  # {"-4711": -1004711}: group chats upgraded to supergroups
        photo_errors=[],  # photo URLs Telegram "cannot fetch" (400 failed to get HTTP URL content)
    ),
    "whatsapp": dict(
        COMMON,
        phone_number_id="100200300",
        waba_id="900800700",
        access_token="SANDBOX-WA-TOKEN",
        app_secret="SANDBOX-APP-SECRET",
        verify_token="SANDBOX-VERIFY-TOKEN",
        business_number="+4930123456",
        verified_name="Stadt Musterstadt",
        quality_rating="GREEN",
        api_version="v23.0",
        templates=copy.deepcopy(DEFAULT_TEMPLATES),
        window_hours=24.0,  # free-form messages only this long after the citizen's last message
        pair_interval=0.0,  # seconds between two messages to the same number; 0: off (Meta: ~6)
        undeliverable=[],  # 131026
        marketing_opt_out=[],  # 131050, for MARKETING templates
        status_webhooks=False,  # post sent/delivered statuses after accepted messages
        read_receipts=False,  # ... and "read"
    ),
    "signal": dict(
        COMMON,
        number="+4915111111111",
        # How a rate limit surfaces: "challenge" (json-rpc mode, HTTP 429 with challenge
        # tokens) or "legacy" (HTTP 400 "[413] Rate limit exceeded" of signal-cli).
        rate_limit_style="challenge",
    ),
    "threema": dict(
        COMMON,
        gateway_id="*MUSTER1",
        secret="SANDBOX-THREEMA",
        credits=100000,
        no_credits=False,
    ),
    "max_messages": 50000,  # messages kept for /_sandbox/messages (oldest dropped first)
}

# The senders' rates the settings document uses by default (worker/README.md).
WORKER_RATES = {"telegram": 30.0, "whatsapp": 80.0, "signal": 1.0, "threema": 10.0}


def defaults():
    return copy.deepcopy(DEFAULTS)


class ConfigError(ValueError):
    pass


FREE_FORM = ("templates", "migrated")  # maps whose keys the caller chooses
REPLACED = ("migrated",)  # replaced as a whole, so a chat can be "un-migrated"


def merge(config, changes, path=""):
    """Merge ``changes`` into ``config`` in place; unknown keys are errors (typos would go unnoticed)."""
    if not isinstance(changes, dict):
        raise ConfigError(f"{path or 'config'} must be an object")
    free_form = path.rpartition(".")[2] in FREE_FORM
    for key, value in changes.items():
        where = f"{path}.{key}" if path else key
        if key not in config and not free_form:
            raise ConfigError(f"Unknown sandbox setting {where!r}")
        current = config.get(key)
        if (
            isinstance(current, dict)
            and isinstance(value, dict)
            and key not in REPLACED
        ):
            merge(current, value, where)
        elif isinstance(current, dict) and not isinstance(value, dict):
            raise ConfigError(f"{where} must be an object")
        else:
            config[key] = copy.deepcopy(value)
    return config
