"""Telegram Bot API: a post is one sendMessage (or sendPhoto) with a "Weiterlesen" button.

Text goes out with parse_mode HTML: everything is escaped, only the title is wrapped in <b>.
Telegram counts its limits (4096 for a message, 1024 for a photo caption) on the text after
parsing, so posts are shortened on the plain text: the teaser gives way first, the link stays.
Replies (``send_text``) are plain text: escaped, cut to 4096, sent without a link preview.
"""

import html
from dataclasses import replace

from messenger_worker import render
from messenger_worker.channels.base import Channel
from messenger_worker.channels.base import CheckResult
from messenger_worker.channels.base import Outcome
from messenger_worker.channels.transport import Answer
from messenger_worker.channels.transport import call
from messenger_worker.channels.transport import retry_after_header
from messenger_worker.channels.transport import server_trouble
from messenger_worker.channels.transport import short

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

# Descriptions (lower case) that mean this chat will never take a message from the bot again.
GONE_DESCRIPTIONS = {
    "bot was blocked by the user": "Telegram says the bot was blocked by this user.",
    "user is deactivated": "Telegram says this user deleted their account.",
    "chat not found": "Telegram does not know this chat.",
    "bot was kicked": "Telegram says the bot was removed from this group.",
    "bot is not a member": "Telegram says the bot is not a member of this chat.",
    "bot can't initiate conversation": "Telegram says this user never started the bot.",
    "group chat was deleted": "Telegram says this group was deleted.",
}

# Telegram could not use the photo URL: the post goes out as text instead.
PHOTO_PROBLEMS = (
    "wrong file identifier",
    "failed to get http url content",
    "wrong type of the web page",
    "image_process_failed",
    "photo_invalid_dimensions",
    "photo_save_file_invalid",
    "wrong remote file",
)


def escape(text):
    return html.escape(text, quote=False)


def html_text(template, values):
    """Telegram HTML for ``values`` filled into ``template``: escaped, title bold."""
    return render.fill_marked_up(
        template, values, escape, lambda title: f"<b>{title}</b>"
    )


class TelegramChannel(Channel):
    name = "telegram"
    platform = "Telegram"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._rendered = {}

    def account(self):
        # The bot id is the token's part before the colon; it is not secret.
        return (self.settings.get("bot_token") or "").split(":", 1)[0]

    def _url(self, method):
        base = (self.settings.get("api_url") or "https://api.telegram.org").rstrip("/")
        return f"{base}/bot{self.settings.get('bot_token') or ''}/{method}"

    def _call(self, method, payload=None, http_method="POST"):
        kwargs = {"json": payload} if payload is not None else {}
        return call(
            self.session,
            http_method,
            self._url(method),
            self.timeout,
            self.platform,
            **kwargs,
        )

    # Rendering ---------------------------------------------------------------------------

    def render(self, post, limit=TEXT_LIMIT):
        """The post's text as Telegram HTML, shortened to ``limit`` visible characters."""
        template = post.template_for(self.name)
        values = render.fit_values(
            template, render.placeholder_values(post), limit, render.utf16_size
        )
        return html_text(template, values)

    def requests_for(self, post, chat_id):
        """(method, payload) to try in order: the photo first when there is one, then text."""
        # Rendered once per post and channel instance: every recipient gets the same text.
        key = (post.id, post.language)
        if key not in self._rendered:
            self._rendered = {key: self._requests_for(post)}
        return [
            (method, dict(payload, chat_id=chat_id))
            for method, payload in self._rendered[key]
        ]

    def _requests_for(self, post, chat_id=None):
        keyboard = {
            "inline_keyboard": [
                [{"text": render.read_more_label(post.language), "url": post.url}]
            ]
        }
        text = {
            "chat_id": chat_id,
            "text": self.render(post),
            "parse_mode": "HTML",
            "reply_markup": keyboard,
        }
        if not post.image_url:
            return [("sendMessage", text)]
        photo = {
            "chat_id": chat_id,
            "photo": post.image_url,
            "caption": self.render(post, CAPTION_LIMIT),
            "parse_mode": "HTML",
            "reply_markup": keyboard,
        }
        return [("sendPhoto", photo), ("sendMessage", text)]

    # Sending -----------------------------------------------------------------------------

    def send(self, post, recipient):
        return self._send_following(
            lambda chat_id: self.requests_for(post, chat_id), recipient.address
        )

    def text_message(self, text, chat_id):
        """The sendMessage payload of a plain-text reply: escaped, cut, without link preview."""
        plain = render.cut_words(text or "", TEXT_LIMIT, render.utf16_size)
        return {
            "chat_id": chat_id,
            "text": escape(plain),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }

    def send_text(self, recipient, text):
        """A plain-text reply (welcome, goodbye, ...); classified like ``send``."""
        return self._send_following(
            lambda chat_id: [("sendMessage", self.text_message(text, chat_id))],
            recipient.address,
        )

    def _send_following(self, requests_for, address):
        """Send ``requests_for(chat id)``, following Telegram once to a chat's new id."""
        outcome, moved_to = self._send_to(requests_for(address), address)
        if moved_to is None:
            return outcome
        # The group became a supergroup: send there, and tell the job to keep the new id.
        outcome, moved_again = self._send_to(requests_for(moved_to), moved_to)
        if moved_again is not None:
            return Outcome.failed(
                "Telegram moved this chat twice in a row; not following further."
            )
        return replace(outcome, new_address=moved_to)

    def _send_to(self, attempts, chat_id):
        """(Outcome, None), or (None, new chat id) when Telegram says the chat moved.

        ``attempts`` are the (method, payload) pairs to try in order (see ``requests_for``).
        """
        while True:
            method, payload = attempts[0]
            answer = self._call(method, payload)
            if not isinstance(answer, Answer):
                return answer, None
            moved_to = _parameters(answer).get("migrate_to_chat_id")
            if moved_to:
                return None, str(moved_to)
            if len(attempts) > 1 and _is_photo_problem(answer):
                attempts = attempts[
                    1:
                ]  # Telegram cannot use the image: send the text alone
                continue
            if "reply_markup" in payload and _is_button_problem(answer):
                # Telegram refuses some links in buttons (e.g. localhost); the text has the link.
                attempts = [(name, _without_keyboard(data)) for name, data in attempts]
                continue
            return self.classify(answer, chat_id), None

    def classify(self, answer, chat_id=""):
        """Outcome for a Bot API answer."""
        data = answer.data if isinstance(answer.data, dict) else {}
        if answer.status == 200 and data.get("ok"):
            return Outcome.sent((data.get("result") or {}).get("message_id"))
        description = short(
            data.get("description") or answer.text or f"HTTP {answer.status}"
        )
        if answer.status == 429:
            seconds = _parameters(answer).get("retry_after") or retry_after_header(
                answer, 1.0
            )
            return Outcome.retry(
                f"Telegram asks to slow down for {seconds:g} s.",
                seconds=seconds,
                pause_bucket=True,
            )
        if answer.status in (401, 404):
            # 404 is what the Bot API answers for a token it cannot even parse.
            return Outcome.pause(
                f"Telegram rejected the bot token ({description}); check the token "
                "and the API URL in the control panel."
            )
        if answer.server_error:
            return server_trouble(self.platform, answer)
        unreachable = _unreachable_reason(answer, description)
        if unreachable and str(chat_id).startswith("@"):
            # A public channel is a setting an admin fixes, not a subscriber to drop.
            return Outcome.failed(
                f"{unreachable} Make the bot an administrator of {chat_id} "
                "or correct the channel name."
            )
        if unreachable:
            return Outcome.gone(unreachable)
        return Outcome.failed(f"Telegram refused the message: {description}")

    def check(self):
        answer = self._call("getMe", http_method="GET")
        if not isinstance(answer, Answer):
            return CheckResult(False, answer.reason)
        data = answer.data if isinstance(answer.data, dict) else {}
        if answer.status == 200 and data.get("ok"):
            bot = data.get("result") or {}
            expected = (self.settings.get("bot_username") or "").lstrip("@")
            username = bot.get("username") or ""
            if expected and username.lower() != expected.lower():
                return CheckResult(
                    False,
                    f"The token belongs to @{username}, not to @{expected}; "
                    "fix the bot username or the token.",
                )
            return CheckResult(
                True, f"Bot @{username} (id {bot.get('id')}) accepts the token."
            )
        return CheckResult(False, self.classify(answer).reason)


def _parameters(answer):
    data = answer.data if isinstance(answer.data, dict) else {}
    return data.get("parameters") or {}


def _description(answer):
    data = answer.data if isinstance(answer.data, dict) else {}
    return str(data.get("description") or "").lower()


def _is_photo_problem(answer):
    return answer.status == 400 and any(
        problem in _description(answer) for problem in PHOTO_PROBLEMS
    )


def _is_button_problem(answer):
    description = _description(answer)
    return answer.status == 400 and (
        "button_url_invalid" in description
        or ("button url" in description and "invalid" in description)
    )


def _without_keyboard(payload):
    return {key: value for key, value in payload.items() if key != "reply_markup"}


def _unreachable_reason(answer, description):
    """Why this chat can never get a message from the bot, or None."""
    if answer.status not in (400, 403):
        return None
    lowered = description.lower()
    for needle, reason in GONE_DESCRIPTIONS.items():
        if needle in lowered:
            return reason
    if answer.status == 403:
        return f"Telegram does not let the bot write to this chat ({description})."
    return None


CHANNEL = TelegramChannel
