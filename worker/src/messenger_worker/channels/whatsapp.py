"""WhatsApp Cloud API: broadcasts as approved template messages, replies as free text.

A business may only start a conversation with an approved template, so a post goes out as
one of two templates named in the settings: a post with an image as ``image_template_name``
(a template with an image header) when one is set, every other post as ``template_name`` (a
template without header; an image is then left out). Meta refuses a header parameter for a
template without header and a missing one for a template with an image header, so one
template cannot carry both kinds of post. The template is filled like this:

- header: the post's image (only with ``image_template_name``);
- body: {{1}} = the title, {{2}} = teaser, date and place in one line (WhatsApp refuses line
  breaks, tabs and runs of spaces inside parameters);
- URL button: {{1}} = the post's path, so the template's button URL is the site root followed
  by {{1}} (e.g. https://www.musterstadt.de/{{1}}).

Free text (``send_text``) is only allowed within 24 hours of the citizen's last message.
Errors are classified by Meta's ``error.code``, which Meta recommends over HTTP status.
"""

import re
from urllib.parse import urlsplit

from messenger_worker import render
from messenger_worker.channels.base import Channel
from messenger_worker.channels.base import CheckResult
from messenger_worker.channels.base import Outcome
from messenger_worker.channels.transport import Answer
from messenger_worker.channels.transport import call
from messenger_worker.channels.transport import retry_after_header
from messenger_worker.channels.transport import short

TEXT_LIMIT = 4096  # free text body
TITLE_LIMIT = 200
DETAILS_LIMIT = 700  # the whole template body may not exceed 1024 characters
DETAILS_SEPARATOR = " · "

# error.code -> seconds to wait, and whether every worker has to slow down (pause the bucket).
RATE_LIMITS = {
    130429: (5.0, True, "WhatsApp's message throughput for this number is reached"),
    80007: (60.0, True, "the WhatsApp Business Account reached its rate limit"),
    4: (60.0, True, "the app reached its WhatsApp API call limit"),
    131048: (
        300.0,
        True,
        "WhatsApp limits this number because messages were reported as spam",
    ),
    131056: (6.0, False, "too many messages to this recipient in a short time"),
}
GONE = {
    131026: "WhatsApp cannot deliver to this number (not on WhatsApp, or an outdated app).",
    131050: "This user stopped marketing messages from the business on WhatsApp.",
}
WINDOW_CLOSED = 131047
# Whole-channel problems an admin has to solve.
PAUSE = {
    190: "WhatsApp rejected the access token (expired or revoked)",
    0: "WhatsApp could not authenticate the app",
    10: "the app lacks the permission to send WhatsApp messages",
    131005: "the access token lacks the permission to send WhatsApp messages",
    131031: "the WhatsApp Business Account is locked",
    131042: "the WhatsApp Business Account has a payment problem",
    368: "the WhatsApp Business Account is blocked for policy violations",
    133010: "the phone number is not registered with the Cloud API",
    132001: "the message template does not exist in this language",
    132015: "the message template is paused for low quality",
    132016: "the message template is disabled",
}
# Passing trouble on Meta's side.
TRANSIENT = {1, 2, 131000, 131016, 133004}


def one_line(text):
    """Text as WhatsApp accepts it in a template parameter: no breaks, tabs or long spaces."""
    return re.sub(r"\s+", " ", text or "").strip()


def template_details(post, values=None):
    """Body parameter {{2}}: teaser, date and location of the post in one line."""
    values = values or render.placeholder_values(post)
    when = values["start"]
    if when and values["end"]:
        when = f"{when} – {values['end']}"
    parts = [one_line(values["teaser"]), one_line(when), one_line(values["location"])]
    details = DETAILS_SEPARATOR.join(part for part in parts if part)
    return (
        render.cut_words(details, DETAILS_LIMIT) or "–"
    )  # an empty parameter is refused


def button_suffix(url):
    """The part of the post URL after the site root: the URL button's {{1}}."""
    parts = urlsplit(url)
    suffix = parts.path.lstrip("/")
    if parts.query:
        suffix += "?" + parts.query
    return suffix


class WhatsAppChannel(Channel):
    name = "whatsapp"
    platform = "WhatsApp"

    def account(self):
        return str(self.settings.get("phone_number_id") or "")

    def _url(self, suffix=""):
        base = (self.settings.get("api_url") or "https://graph.facebook.com").rstrip(
            "/"
        )
        version = self.settings.get("api_version") or "v23.0"
        return f"{base}/{version}/{self.settings.get('phone_number_id') or ''}{suffix}"

    def _call(self, method, suffix="", payload=None):
        headers = {"Authorization": f"Bearer {self.settings.get('access_token') or ''}"}
        kwargs = {"json": payload} if payload is not None else {}
        return call(
            self.session,
            method,
            self._url(suffix),
            self.timeout,
            self.platform,
            headers=headers,
            **kwargs,
        )

    # Rendering ---------------------------------------------------------------------------

    def template_for(self, post):
        """(name, with image header) of the template ``post`` goes out as."""
        image_template = self.settings.get("image_template_name")
        if post.image_url and image_template:
            return image_template, True
        return self.settings.get("template_name") or "", False

    def template_message(self, post, to):
        """The Cloud API payload of ``post`` as the configured template message."""
        name, image_header = self.template_for(post)
        components = []
        if image_header:
            components.append({
                "type": "header",
                "parameters": [{"type": "image", "image": {"link": post.image_url}}],
            })
        title = render.cut_words(one_line(post.title), TITLE_LIMIT) or "–"
        components.append({
            "type": "body",
            "parameters": [
                {"type": "text", "text": title},
                {"type": "text", "text": template_details(post)},
            ],
        })
        components.append({
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": button_suffix(post.url)}],
        })
        return {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "template",
            "template": {
                "name": name,
                "language": {"code": self.settings.get("template_language") or "de"},
                "components": components,
            },
        }

    # Sending -----------------------------------------------------------------------------

    def send(self, post, recipient):
        return self._send(self.template_message(post, recipient.address))

    def send_text(self, recipient, text):
        """A free-text reply; only possible in the 24 h after the citizen's last message."""
        body = render.cut_words(text or "", TEXT_LIMIT)
        return self._send({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": recipient.address,
            "type": "text",
            "text": {"preview_url": True, "body": body},
        })

    def _send(self, payload):
        answer = self._call("POST", "/messages", payload)
        if not isinstance(answer, Answer):
            return answer
        return self.classify(answer)

    def classify(self, answer):
        data = answer.data if isinstance(answer.data, dict) else {}
        if answer.status == 200 and data.get("messages"):
            return Outcome.sent(data["messages"][0].get("id"))
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        code = _as_int(error.get("code"))
        detail = short(
            (error.get("error_data") or {}).get("details")
            or error.get("message")
            or answer.text
            or f"HTTP {answer.status}"
        )
        if code in RATE_LIMITS:
            seconds, pause_bucket, why = RATE_LIMITS[code]
            seconds = retry_after_header(answer, seconds)
            return Outcome.retry(
                f"WhatsApp says {why} ({code}); trying again in {seconds:g} s.",
                seconds=seconds,
                pause_bucket=pause_bucket,
            )
        if code in GONE:
            return Outcome.gone(GONE[code])
        if code == WINDOW_CLOSED:
            return Outcome.failed(
                "WhatsApp says the 24-hour service window closed, "
                "a template is needed (131047)."
            )
        if code == 100 and error.get("error_subcode") == 33:
            return Outcome.pause(
                f"Sending paused: WhatsApp does not know the phone number ID "
                f"{self.account()} ({detail})."
            )
        if code == 132012 and "header" in detail.lower():
            return Outcome.failed(
                "The WhatsApp template's header does not fit this post (one has an "
                f"image, the other not): {detail}. The broadcast template must have no "
                "header; a template with an image header belongs in 'Template for "
                "posts with an image'."
            )
        if code in PAUSE or (code is not None and 200 <= code <= 299):
            why = PAUSE.get(code, "the app lacks a permission for WhatsApp messages")
            return Outcome.pause(f"Sending paused: {why} ({code}: {detail}).")
        if code in TRANSIENT or answer.server_error:
            return Outcome.retry(
                f"WhatsApp had a passing problem ({code or answer.status}: {detail}); "
                "will try again."
            )
        if answer.status == 401:
            return Outcome.pause(f"WhatsApp rejected the access token ({detail}).")
        if answer.status == 429:
            seconds = retry_after_header(answer, 60.0)
            return Outcome.retry(
                f"WhatsApp asks to slow down; trying again in {seconds:g} s.",
                seconds=seconds,
                pause_bucket=True,
            )
        return Outcome.failed(
            f"WhatsApp refused the message ({code or answer.status}: {detail})."
        )

    def check(self):
        answer = self._call("GET")
        if not isinstance(answer, Answer):
            return CheckResult(False, answer.reason)
        data = answer.data if isinstance(answer.data, dict) else {}
        if answer.status == 200 and "error" not in data:
            number = (
                data.get("display_phone_number")
                or self.settings.get("business_number")
                or "?"
            )
            name = data.get("verified_name") or "unnamed"
            quality = data.get("quality_rating") or "unknown"
            return CheckResult(
                True, f"Phone number {number} ({name}), quality rating {quality}."
            )
        return CheckResult(False, self.classify(answer).reason)


def _as_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


CHANNEL = WhatsAppChannel
