"""Six-digit verification codes for Signal and Threema numbers.

Only a salted HMAC of the code is stored, bound to the subscriber id, so that backups and
database dumps do not show codes in readable form. A six-digit code cannot resist an offline
search; what protects it is the short lifetime and the attempt limit, both enforced here.
"""

import enum
import hashlib
import hmac
import secrets

from collective.messenger.subscribers.model import CODE_ATTEMPTS
from collective.messenger.subscribers.model import CODE_LIFETIME
from collective.messenger.subscribers.model import CodeChallenge


class CodeCheck(str, enum.Enum):
    """The outcome of entering a code."""

    OK = "ok"
    WRONG = "wrong"  # attempts left
    EXHAUSTED = "exhausted"  # too many wrong attempts: ask for a new code
    EXPIRED = "expired"  # ask for a new code
    MISSING = "missing"  # no code was issued (or it was used)


def new_code():
    return f"{secrets.randbelow(1_000_000):06d}"


def _digest(salt, subscriber_id, code):
    return hmac.new(salt, f"{subscriber_id}:{code}".encode(), hashlib.sha256).digest()


def challenge_for(subscriber_id, code, now):
    salt = secrets.token_bytes(16)
    return CodeChallenge(
        _digest(salt, subscriber_id, code), salt, now + CODE_LIFETIME, 0
    )


def check(challenge, subscriber_id, code, now):
    """Compare ``code`` with the challenge; returns (CodeCheck, the challenge to keep)."""
    if challenge is None:
        return CodeCheck.MISSING, None
    if challenge.attempts >= CODE_ATTEMPTS:
        return CodeCheck.EXHAUSTED, challenge
    if now >= challenge.expires:
        return CodeCheck.EXPIRED, challenge
    given = code.strip() if isinstance(code, str) else ""
    if hmac.compare_digest(
        _digest(challenge.salt, subscriber_id, given), challenge.digest
    ):
        return CodeCheck.OK, None
    challenge = challenge._replace(attempts=challenge.attempts + 1)
    if challenge.attempts >= CODE_ATTEMPTS:
        return CodeCheck.EXHAUSTED, challenge
    return CodeCheck.WRONG, challenge
