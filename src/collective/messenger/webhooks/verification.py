"""Is a webhook request from the platform? Secrets and signatures, compared in constant time.

Every comparison uses ``hmac.compare_digest`` on bytes, so the time it takes does not tell
an attacker how much of a guess was right. A channel without a configured secret accepts
nothing: an empty secret must not match an empty header.
"""

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="


def _bytes(value):
    # Header values arrive as latin-1 decoded text (WSGI); anything else is simply not equal.
    return value.encode("utf-8", "surrogatepass")


def same_secret(given, expected):
    """Whether ``given`` (from the request) equals the configured secret ``expected``."""
    if not expected or not isinstance(given, str) or not isinstance(expected, str):
        return False
    return hmac.compare_digest(_bytes(given), _bytes(expected))


def whatsapp_signature(app_secret, body):
    """``X-Hub-Signature-256`` as Meta computes it: HMAC-SHA256 of the raw body."""
    return (
        SIGNATURE_PREFIX
        + hmac.new(_bytes(app_secret), body, hashlib.sha256).hexdigest()
    )


def valid_whatsapp_signature(app_secret, body, header):
    """Whether ``header`` signs ``body`` with ``app_secret`` (hex digits in either case)."""
    if not app_secret or not isinstance(header, str):
        return False
    given = header.strip()
    if given[: len(SIGNATURE_PREFIX)].lower() != SIGNATURE_PREFIX:
        return False
    given = SIGNATURE_PREFIX + given[len(SIGNATURE_PREFIX) :].lower()
    return hmac.compare_digest(
        _bytes(given), _bytes(whatsapp_signature(app_secret, body))
    )
