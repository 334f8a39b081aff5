"""What every channel does: render a post, send it to one recipient, classify the answer.

A channel module knows one platform's HTTP API and nothing about Redis, queues or rate
limits: the job (``messenger_worker.jobs``) claims the recipient, takes a rate token, calls
``send`` and books the ``Outcome``.
"""

from dataclasses import dataclass

SENT = "sent"  # delivered to the platform; message_id is the platform's id
RETRY = (
    "retry"  # try again: after retry_after seconds, or with back-off when it is None
)
GONE = "gone"  # this recipient will never be reachable (blocked, deactivated, unknown)
FAILED = "failed"  # this message cannot be sent to this recipient; reason says why
PAUSE = (
    "pause"  # the whole channel cannot send (bad token, no credits) until an admin acts
)

KINDS = (SENT, RETRY, GONE, FAILED, PAUSE)


@dataclass(frozen=True)
class Outcome:
    kind: str
    message_id: str | None = None
    # Seconds the platform asked to wait; None for transient trouble (timeouts, 5xx), where
    # the job backs off exponentially with jitter.
    retry_after: float | None = None
    reason: str = ""  # for people: admins read it in the control panel
    new_address: str | None = (
        None  # Telegram migrate_to_chat_id: the address to use instead
    )
    pause_bucket: bool = (
        False  # a platform rate limit: pause every worker's sending here
    )

    @classmethod
    def sent(cls, message_id):
        return cls(SENT, message_id=str(message_id))

    @classmethod
    def retry(cls, reason, seconds=None, pause_bucket=False):
        seconds = None if seconds is None else float(seconds)
        return cls(RETRY, retry_after=seconds, reason=reason, pause_bucket=pause_bucket)

    @classmethod
    def gone(cls, reason):
        return cls(GONE, reason=reason)

    @classmethod
    def failed(cls, reason):
        return cls(FAILED, reason=reason)

    @classmethod
    def pause(cls, reason, retry_after=None):
        return cls(PAUSE, reason=reason, retry_after=retry_after)


@dataclass(frozen=True)
class CheckResult:
    """Answer of ``messenger-worker test-channel``: do the credentials work?"""

    ok: bool
    detail: str


class Channel:
    """Base class of the channel modules.

    ``settings`` is this channel's part of the published settings document (api_url,
    rate, tokens, ...; see worker/README.md); ``session`` a ``requests.Session`` that the
    worker reuses for keep-alive. ``timeout`` is (connect, read) seconds.
    """

    name = None

    def __init__(self, settings, session, timeout=(3.05, 10)):
        self.settings = settings
        self.session = session
        self.timeout = timeout

    def account(self):
        """Identifies the sender account; one rate bucket per (channel, account)."""
        raise NotImplementedError

    def send(self, post, recipient):
        """Send ``post`` to ``recipient``; never raises for platform or network errors."""
        raise NotImplementedError

    def check(self):
        """Check the credentials against the platform; returns a CheckResult."""
        raise NotImplementedError
