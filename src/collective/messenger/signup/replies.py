"""Messages to one citizen (code, welcome, goodbye, manage link, "unknown link"), queued after commit.

The text is written and translated into the subscriber's language during the request and
recorded in the reply outbox (``reply_outbox``) in the same transaction; the worker job
that sends it (``messenger_worker.replies.send_reply``) is enqueued only after the
transaction committed, so a request that fails or is retried after a ConflictError sends
nothing twice and nothing for data that was never stored, and a reply whose hand-over
finds Redis down waits in the outbox instead of being lost. Each reply has a fixed id
(``welcome-<subscriber>-<confirmed>``, ...), and the worker sends a reply id once. Reply
ids name no address, code or token (they become Redis keys and job ids).
"""

import hashlib

from plone import api
from zope.i18n import translate

from collective.messenger import _
from collective.messenger.signup import reply_outbox
from collective.messenger.signup.offer import topic_titles
from collective.messenger.signup.pseudonyms import pseudonym
from collective.messenger.subscribers.clock import epoch
from collective.messenger.subscribers.clock import utcnow
from messenger_worker.payload import Recipient

# What a citizen writes to leave, per channel. Threema's gateway (basic mode) receives no
# messages, so Threema subscribers leave through the manage link.
STOP_WORDS = {"telegram": "/stop", "whatsapp": "STOP", "signal": "STOP"}
# Where a citizen can write "link" to get the manage link again (commands.LINK).
LINK_CHANNELS = ("telegram", "whatsapp", "signal")


def portal_url():
    return api.portal.get().absolute_url()


def manage_url(subscriber):
    return f"{portal_url()}/@@messenger-manage/{subscriber.manage_token}"


def signup_url():
    return f"{portal_url()}/@@messenger-signup"


def site_title():
    # The site's name from Site Setup; the root's Title() is the front page's heading in Plone 6.
    return (
        api.portal.get_registry_record("plone.site_title", default="")
        or api.portal.get().Title()
        or ""
    )


def _how_to_leave(subscriber):
    word = STOP_WORDS.get(subscriber.channel)
    if word:
        return _(
            "reply_how_to_leave",
            default="To leave, send ${word} or open ${url}",
            mapping={"word": word, "url": manage_url(subscriber)},
        )
    return _(
        "reply_how_to_leave_link",
        default="To change your topics or leave, open ${url}",
        mapping={"url": manage_url(subscriber)},
    )


def welcome_text(subscriber):
    titles = topic_titles()
    topics = ", ".join(titles.get(topic, topic) for topic in subscriber.topics)
    language = subscriber.language
    welcome = _(
        "reply_welcome",
        default="Welcome! You will now receive news from ${site} on: ${topics}.",
        mapping={"site": site_title(), "topics": topics},
    )
    text = f"{translate(welcome, target_language=language)}\n\n" + translate(
        _how_to_leave(subscriber), target_language=language
    )
    if subscriber.channel in LINK_CHANNELS:
        # This message holds the only copy of the manage link: say how to get it again.
        text += "\n" + translate(
            _(
                "reply_link_again",
                default="Lost this message? Send ${word} to get your link again.",
                mapping={"word": "link"},
            ),
            target_language=language,
        )
    return text


def goodbye_text(subscriber):
    goodbye = _(
        "reply_goodbye",
        default="You have left. You will receive no more messages from ${site}. "
        "To subscribe again, visit ${url}",
        mapping={"site": site_title(), "url": signup_url()},
    )
    return translate(goodbye, target_language=subscriber.language)


def code_text(code, language):
    message = _(
        "reply_code",
        default="Your confirmation code for ${site}: ${code}\n\nIt is valid for 15 minutes. "
        "If you did not ask for it, ignore this message.",
        mapping={"site": site_title(), "code": code},
    )
    return translate(message, target_language=language)


def unknown_link_text(language):
    message = _(
        "reply_unknown_link",
        default="This signup link is unknown or has expired. Please sign up again at ${url}",
        mapping={"url": signup_url()},
    )
    return translate(message, target_language=language)


def not_subscribed_text(language):
    message = _(
        "reply_not_subscribed",
        default="You are not subscribed to messages from ${site}. To subscribe, visit ${url}",
        mapping={"site": site_title(), "url": signup_url()},
    )
    return translate(message, target_language=language)


def manage_link_text(subscriber):
    message = _(
        "reply_manage_link",
        default="Your personal link to change your topics or leave ${site}: ${url}\n\n"
        "Keep it to yourself: whoever has it can change your subscription.",
        mapping={"site": site_title(), "url": manage_url(subscriber)},
    )
    return translate(message, target_language=subscriber.language)


def already_subscribed_text(subscriber):
    titles = topic_titles()
    topics = ", ".join(titles.get(topic, topic) for topic in subscriber.topics)
    message = _(
        "reply_already_subscribed",
        default="You are already subscribed to: ${topics}.",
        mapping={"topics": topics},
    )
    return f"{translate(message, target_language=subscriber.language)}\n\n" + translate(
        _how_to_leave(subscriber), target_language=subscriber.language
    )


# -- queueing --------------------------------------------------------------------------------


def queue_text(channel, address, language, reply_id, text, subscriber_id=""):
    """Send ``text`` to ``address`` once, after this transaction commits (or later, when
    Redis is back: the reply outbox keeps it until then)."""
    recipient = Recipient(str(subscriber_id), channel, str(address), language or "de")
    reply_outbox.record(reply_id, recipient, text)


def _moment(value):
    return str(int(epoch(value))) if value is not None else "0"


def queue_welcome(subscriber):
    queue_text(
        subscriber.channel,
        subscriber.address,
        subscriber.language,
        f"welcome-{subscriber.id}-{_moment(subscriber.confirmed)}",
        welcome_text(subscriber),
        subscriber.id,
    )


def queue_goodbye(subscriber):
    queue_text(
        subscriber.channel,
        subscriber.address,
        subscriber.language,
        f"goodbye-{subscriber.id}-{_moment(subscriber.unsubscribed)}",
        goodbye_text(subscriber),
        subscriber.id,
    )


def queue_code(subscriber, code):
    # One reply per issued code: the code's salt tells issued codes apart.
    issued = hashlib.sha256(subscriber.code.salt).hexdigest()[:12]
    queue_text(
        subscriber.channel,
        subscriber.address,
        subscriber.language,
        f"code-{subscriber.id}-{issued}",
        code_text(code, subscriber.language),
        subscriber.id,
    )


# One manage link per subscriber and this many seconds: "link" sent twice, or a webhook
# delivered twice, sends it once.
LINK_INTERVAL_SECONDS = 60


def queue_manage_link(subscriber, now=None):
    moment = int(epoch(now or utcnow())) // LINK_INTERVAL_SECONDS
    queue_text(
        subscriber.channel,
        subscriber.address,
        subscriber.language,
        f"link-{subscriber.id}-{moment}",
        manage_link_text(subscriber),
        subscriber.id,
    )


def queue_answer(channel, address, language, kind, text, about=""):
    """A reply to a message that matched no subscriber (unknown link, not subscribed).

    Answered once per address, kind and message, so a repeated webhook delivery does not
    repeat the answer. The id is a keyed hash: a plain one of a phone number and an empty
    ``about`` would be undone by trying every number.
    """
    digest = pseudonym("answer", f"{channel}:{address}:{about}")[:20]
    queue_text(channel, address, language, f"{kind}-{digest}", text)
