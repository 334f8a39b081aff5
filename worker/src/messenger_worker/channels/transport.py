"""HTTP calls for the channels: one request, and network trouble turned into an Outcome.

Channels must never raise for network or platform errors, so ``call`` answers either with
an ``Answer`` (the platform said something, whatever the status) or with an ``Outcome``
(the platform could not be asked: timeout, refused connection, bad api_url).
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from messenger_worker.channels.base import Outcome


@dataclass(frozen=True)
class Answer:
    status: int
    data: object  # the parsed JSON body, or None when the body is not JSON
    text: str
    headers: dict

    @property
    def server_error(self):
        return self.status >= 500


def _host(url):
    return urlsplit(url).netloc or url


def call(session, method, url, timeout, platform, **kwargs):
    """Do one HTTP request; returns an ``Answer`` or, when there is no answer, an ``Outcome``."""
    try:
        response = session.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout:
        return Outcome.retry(
            f"{platform} did not answer in time ({_host(url)}); will try again."
        )
    except requests.ConnectionError:
        return Outcome.retry(
            f"Could not connect to {platform} at {_host(url)}; will try again."
        )
    except (
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
    ):
        return Outcome.pause(
            f"The {platform} API URL is not a valid URL ({_host(url)!r}); check the channel settings."
        )
    except requests.exceptions.InvalidHeader:
        return Outcome.pause(
            f"The {platform} credentials contain characters that cannot be sent; "
            "check the channel settings."
        )
    except requests.RequestException as error:
        return Outcome.retry(
            f"Talking to {platform} failed ({error.__class__.__name__}); will try again."
        )
    try:
        data = response.json()
    except ValueError:
        data = None
    return Answer(response.status_code, data, response.text, dict(response.headers))


def retry_after_header(answer, default=None):
    """Seconds from a Retry-After header (seconds form only), else ``default``."""
    value = answer.headers.get("Retry-After") or answer.headers.get("retry-after")
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        return default


def server_trouble(platform, answer):
    """The Outcome for a 5xx: try again later with the job's back-off."""
    return Outcome.retry(
        f"{platform} had a server error (HTTP {answer.status}); will try again."
    )


def short(text, limit=200):
    """A platform's error text, trimmed for the control panel."""
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
