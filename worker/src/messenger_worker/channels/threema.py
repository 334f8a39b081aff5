"""Threema Gateway in Basic mode: ``POST /send_simple``, plain text up to 3500 bytes.

A recipient address is a Threema ID (8 characters) or a phone number in E.164 form, which the
gateway looks up (``phone`` without the plus). The answer is the message id as plain text;
errors are bare HTTP statuses, documented by Threema: 400 bad recipient or cannot encrypt,
401 wrong gateway ID or secret, 402 no credits, 404 unknown phone number, 413 too long,
5xx passing trouble.
"""

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

TEXT_LIMIT_BYTES = 3500
THREEMA_ID = re.compile(r"^[0-9A-Z*][0-9A-Z]{7}$")
RATE_LIMIT_SECONDS = 10.0

STATUS_REASONS = {
    400: "Threema refused the recipient: the Threema ID is invalid or no longer exists, or the gateway "
    "cannot send to it in Basic mode (400).",
    401: "Threema rejected the gateway ID or API secret (401); check them in the control panel.",
    402: "The Threema Gateway account has no credits left (402); buy credits to continue.",
    404: "Threema does not know this phone number or ID (404).",
    413: "Threema says the message is too long (413).",
}


def recipient_field(address):
    """("to", ID) for a Threema ID, ("phone", digits) for a phone number."""
    address = (address or "").strip()
    if THREEMA_ID.match(address.upper()) and not address.startswith("+"):
        return "to", address.upper()
    return "phone", re.sub(r"\D", "", address)


class ThreemaChannel(Channel):
    name = "threema"
    platform = "Threema"

    def account(self):
        return self.settings.get("gateway_id") or ""

    def _url(self, path):
        base = (self.settings.get("api_url") or "https://msgapi.threema.ch").rstrip("/")
        return f"{base}{path}"

    def render(self, post):
        template = post.template_for(self.name)
        values = render.fit_values(
            template,
            render.placeholder_values(post),
            TEXT_LIMIT_BYTES,
            render.utf8_size,
        )
        text = render.fill(template, values)
        # fit_values cannot cut the template's own text or the link; never send more than allowed.
        return render.cut_bytes(text, TEXT_LIMIT_BYTES)

    def send(self, post, recipient):
        return self.send_text(recipient, self.render(post))

    def send_text(self, recipient, text):
        field, value = recipient_field(recipient.address)
        form = {
            "from": self.settings.get("gateway_id") or "",
            field: value,
            "secret": self.settings.get("api_secret") or "",
            "text": render.cut_words(text, TEXT_LIMIT_BYTES, render.utf8_size),
        }
        answer = call(
            self.session,
            "POST",
            self._url("/send_simple"),
            self.timeout,
            self.platform,
            data=form,
        )
        if not isinstance(answer, Answer):
            return answer
        return self.classify(answer)

    def classify(self, answer):
        if answer.status == 200:
            return Outcome.sent(answer.text.strip())
        if answer.status == 404:
            return Outcome.gone(STATUS_REASONS[404])
        if answer.status in (401, 402):
            return Outcome.pause(STATUS_REASONS[answer.status])
        if answer.status == 429:
            seconds = retry_after_header(answer, RATE_LIMIT_SECONDS)
            return Outcome.retry(
                f"Threema asks to slow down; trying again in {seconds:g} s.",
                seconds=seconds,
                pause_bucket=True,
            )
        if answer.server_error:
            return server_trouble(self.platform, answer)
        reason = STATUS_REASONS.get(answer.status)
        return Outcome.failed(
            reason
            or f"Threema refused the message (HTTP {answer.status}: {short(answer.text)})."
        )

    def check(self):
        params = {
            "from": self.settings.get("gateway_id") or "",
            "secret": self.settings.get("api_secret") or "",
        }
        answer = call(
            self.session,
            "GET",
            self._url("/credits"),
            self.timeout,
            self.platform,
            params=params,
        )
        if not isinstance(answer, Answer):
            return CheckResult(False, answer.reason)
        if answer.status != 200:
            return CheckResult(False, self.classify(answer).reason)
        credits = answer.text.strip()
        if credits in ("0", ""):
            return CheckResult(
                False, f"Gateway {params['from']} works but has no credits left."
            )
        return CheckResult(
            True, f"Gateway {params['from']} works; {credits} credits left."
        )


CHANNEL = ThreemaChannel
