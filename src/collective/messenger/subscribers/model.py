"""What the store keeps about one subscriber.

A ``Subscriber`` is a persistent record. Read its attributes freely, but change it only
through ``SubscriberStore``: every change there keeps the indexes and counters in step.
"""

from datetime import timedelta
from typing import NamedTuple

from persistent import Persistent

from messenger_worker.settings import CHANNELS  # noqa: F401  (re-exported for callers)

PENDING = "pending"
ACTIVE = "active"
UNSUBSCRIBED = "unsubscribed"
UNREACHABLE = "unreachable"
STATES = (PENDING, ACTIVE, UNSUBSCRIBED, UNREACHABLE)

IMMEDIATE = "immediate"
MODES = (IMMEDIATE, "daily", "weekly")

CONSENT_PATHS = ("portlet", "page", "rest")

# Telegram and WhatsApp learn the address from the citizen's own /start or START message;
# Signal and Threema get a number typed on the site, proven by a code sent to it.
ADDRESS_FROM_MESSENGER = ("telegram", "whatsapp")
ADDRESS_PROVEN_BY_CODE = ("signal", "threema")

PENDING_LIFETIME = timedelta(hours=24)
# Addresses of people who left are erased after this many days unless the site says otherwise.
DEFAULT_KEEP_LEFT_DAYS = 30
CODE_LIFETIME = timedelta(minutes=15)
CODE_ATTEMPTS = 5


class Consent(NamedTuple):
    """Which privacy text the citizen agreed to, when, and through which form."""

    privacy_version: str
    path: str  # one of CONSENT_PATHS
    given_at: object = None  # aware datetime; the store fills in "now" when None


class CodeChallenge(NamedTuple):
    """A verification code sent to a Signal or Threema number; the code itself is not kept."""

    digest: bytes
    salt: bytes
    expires: object  # aware datetime
    attempts: int = 0


class Subscriber(Persistent):
    # Optional values default on the class, so a record stores only what it has: that keeps
    # 200,000 records small and lets old records read new attributes.
    address = None
    confirmed = None
    unsubscribed = None
    left = None  # when they unsubscribed or became unreachable: erased N days later
    confirm_token = None
    confirm_expires = None
    code = None
    signup_key = None

    def __init__(
        self, id, channel, topics, language, mode, consent, manage_token, created
    ):
        self.id = id
        self.channel = channel
        self.topics = topics
        self.language = language
        self.mode = mode
        self.consent = consent
        self.manage_token = manage_token
        self.state = PENDING
        self.created = created
        self.changed = created

    def __repr__(self):
        # Never the address: reprs end up in logs.
        return f"<Subscriber {self.id} {self.channel} {self.state}>"

    @property
    def is_pending(self):
        return self.state == PENDING

    @property
    def is_active(self):
        return self.state == ACTIVE

    @property
    def has_left(self):
        return self.state in (UNSUBSCRIBED, UNREACHABLE)

    @property
    def left_at(self):
        """When they left; records from before ``left`` existed fall back to their dates."""
        return self.left or self.unsubscribed or self.changed

    def forget(self, *names):
        """Drop optional attributes back to their class default (None)."""
        for name in names:
            if (
                getattr(self, name) is not None
            ):  # set on the instance, not the class default
                delattr(self, name)
