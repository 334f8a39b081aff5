"""Signal through signal-cli-rest-api: ``POST /v2/send`` with styled text and the post's image.

Styled text marks **bold**, *italic*, ~strike~, `mono` and ||spoiler||; a backslash before
one of * ` ~ | makes it literal, so everything but our own bold title is escaped.

The image is downloaded once per post and kept in the channel instance (a job sends one post
to a batch of recipients), as a data URI in ``base64_attachments``. A missing, too large or
unreadable image does not stop the message: it goes out as text.

Signal rate-limits new senders hard and for long (hours), so a rate limit waits at least a
minute for every worker. signal-cli-rest-api reports it as HTTP 429 with challenge tokens
(json-rpc mode) or as HTTP 400 "[413] Rate limit exceeded" (normal/native mode).

Replies (``send_text``) go out as plain text (``text_mode: normal``), cut to 2000 bytes.
"""

import base64
import re

from messenger_worker import render
from messenger_worker.channels.base import Channel
from messenger_worker.channels.base import CheckResult
from messenger_worker.channels.base import Outcome
from messenger_worker.channels.transport import Answer
from messenger_worker.channels.transport import call
from messenger_worker.channels.transport import retry_after_header
from messenger_worker.channels.transport import server_trouble
from messenger_worker.channels.transport import short

# Signal shows up to 2 KiB of text inline; longer texts need a long-text attachment, which
# not every signal-cli version makes. Counted on the visible text, without style marks.
TEXT_LIMIT_BYTES = 2000
MAX_IMAGE_BYTES = 5 * 1024 * 1024
IMAGE_CACHE_SIZE = 4  # posts; one job sends one post, so this is plenty
RATE_LIMIT_SECONDS = 60.0  # at least; Signal's limits last minutes to hours
STYLE_MARKS = re.compile(r"([*`~|])")


def escape(text):
    """Text shown literally in text_mode "styled"."""
    escaped = STYLE_MARKS.sub(r"\\\1", text)
    # A backslash right before our closing "**" would escape it; a zero-width space parts them.
    return escaped + "\u200b" if escaped.endswith("\\") else escaped


def styled_text(template, values):
    return render.fill_marked_up(template, values, escape, lambda title: f"**{title}**")


class SignalChannel(Channel):
    name = "signal"
    platform = "Signal"

    def __init__(self, settings, session, timeout=(3.05, 10)):
        super().__init__(settings, session, timeout)
        self._images = {}  # (post id, image url) -> data URI, or None when it cannot be had

    def account(self):
        return self.settings.get("sender_number") or ""

    def _url(self, path):
        base = (self.settings.get("api_url") or "http://localhost:8080").rstrip("/")
        return f"{base}{path}"

    def render(self, post):
        template = post.template_for(self.name)
        values = render.fit_values(
            template,
            render.placeholder_values(post),
            TEXT_LIMIT_BYTES,
            render.utf8_size,
        )
        return styled_text(template, values)

    # The image ---------------------------------------------------------------------------

    def image_attachment(self, post):
        """The post's image as a data URI for base64_attachments, or None."""
        if not post.image_url:
            return None
        key = (post.id, post.image_url)
        if key not in self._images:
            if len(self._images) >= IMAGE_CACHE_SIZE:
                self._images.pop(next(iter(self._images)))
            self._images[key] = self._download(post.image_url)
        return self._images[key]

    def _download(self, url):
        try:
            with self.session.get(url, timeout=self.timeout, stream=True) as response:
                content_type = (
                    response.headers
                    .get("Content-Type", "")
                    .split(";")[0]
                    .strip()
                    .lower()
                )
                if response.status_code != 200 or not content_type.startswith("image/"):
                    return None
                data = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > MAX_IMAGE_BYTES:
                        return None
        except Exception:  # any trouble with the image: send the text alone
            return None
        if not data:
            return None
        encoded = base64.b64encode(data).decode("ascii")
        return f"data:{content_type};base64,{encoded}"

    # Sending -----------------------------------------------------------------------------

    def message(self, post, number):
        payload = {
            "number": self.settings.get("sender_number") or "",
            "recipients": [number],
            "message": self.render(post),
            "text_mode": "styled",
        }
        attachment = self.image_attachment(post)
        if attachment:
            payload["base64_attachments"] = [attachment]
        return payload

    def text_message(self, text, number):
        """The /v2/send payload of a plain-text reply: shown literally, cut to the inline limit."""
        return {
            "number": self.settings.get("sender_number") or "",
            "recipients": [number],
            "message": render.cut_words(text or "", TEXT_LIMIT_BYTES, render.utf8_size),
            "text_mode": "normal",
        }

    def send(self, post, recipient):
        return self._send(self.message(post, recipient.address))

    def send_text(self, recipient, text):
        """A plain-text reply (welcome, goodbye, ...); classified like ``send``."""
        return self._send(self.text_message(text, recipient.address))

    def _send(self, payload):
        answer = call(
            self.session,
            "POST",
            self._url("/v2/send"),
            self.timeout,
            self.platform,
            json=payload,
        )
        if not isinstance(answer, Answer):
            return answer
        return self.classify(answer)

    def classify(self, answer):
        data = answer.data if isinstance(answer.data, dict) else {}
        if answer.status in (200, 201):
            return Outcome.sent(data.get("timestamp") or "")
        error = short(data.get("error") or answer.text or f"HTTP {answer.status}")
        lowered = error.lower()
        if answer.status == 429 or "rate limit" in lowered or "ratelimit" in lowered:
            seconds = max(
                retry_after_header(answer, RATE_LIMIT_SECONDS), RATE_LIMIT_SECONDS
            )
            return Outcome.retry(
                f"Signal is rate-limiting the sender number; trying again in {seconds:g} s "
                "(a captcha challenge may lift it sooner).",
                seconds=seconds,
                pause_bucket=True,
            )
        if answer.server_error:
            return server_trouble(self.platform, answer)
        sender = self.settings.get("sender_number") or ""
        if "not registered" in lowered and sender and sender in error:
            return Outcome.pause(
                f"The sender number {sender} is not registered in signal-cli ({error})."
            )
        if "unregistered" in lowered or "not registered" in lowered:
            return Outcome.gone("This number is not registered with Signal.")
        if "untrusted" in lowered:
            return Outcome.failed(
                "The recipient's safety number changed and signal-cli does not trust "
                f"the new one yet ({error})."
            )
        return Outcome.failed(f"signal-cli-rest-api refused the message: {error}")

    def check(self):
        answer = call(
            self.session, "GET", self._url("/v1/about"), self.timeout, self.platform
        )
        if not isinstance(answer, Answer):
            return CheckResult(False, answer.reason)
        data = answer.data if isinstance(answer.data, dict) else {}
        if answer.status != 200:
            return CheckResult(
                False,
                f"signal-cli-rest-api answered HTTP {answer.status}: "
                f"{short(data.get('error') or answer.text)}",
            )
        about = f"signal-cli-rest-api {data.get('version') or '?'} in {data.get('mode') or '?'} mode"
        sender = self.settings.get("sender_number") or ""
        accounts = call(
            self.session, "GET", self._url("/v1/accounts"), self.timeout, self.platform
        )
        if (
            isinstance(accounts, Answer)
            and accounts.status == 200
            and isinstance(accounts.data, list)
        ):
            if sender not in accounts.data:
                return CheckResult(
                    False,
                    f"{about} runs, but {sender} is not one of its registered numbers.",
                )
            return CheckResult(True, f"{about} sends as {sender}.")
        return CheckResult(
            True, f"{about} answers (registration of {sender} not checked)."
        )


CHANNEL = SignalChannel
