"""Messages to one citizen (code, welcome, goodbye, "unknown link"), queued after commit.

The text is written and translated into the subscriber's language during the request;
the worker job that sends it (``messenger_worker.replies.send_reply``) is enqueued only
after the transaction committed, so a request that fails or is retried after a
ConflictError sends nothing twice and nothing for data that was never stored. Each reply
has a fixed id (``welcome-<subscriber>-<confirmed>``, ...), and the worker sends a reply
id once.
"""

import hashlib
import logging

import redis
import transaction
from plone import api
from zope.i18n import translate

from collective.messenger import _
from collective.messenger.redis_client import get_redis
from collective.messenger.signup.offer import topic_titles
from collective.messenger.subscribers.clock import epoch
from messenger_worker.connection import display_url
from messenger_worker.payload import Recipient
from messenger_worker.replies import enqueue_reply

log = logging.getLogger("collective.messenger")

# What a citizen writes to leave, per channel. Threema's gateway (basic mode) receives no
# messages, so Threema subscribers leave through the manage link.
STOP_WORDS = {"telegram": "/stop", "whatsapp": "STOP", "signal": "STOP"}


def portal_url():
    return api.portal.get().absolute_url()


def manage_url(subscriber):
    return f"{portal_url()}/@@messenger-manage/{subscriber.manage_token}"


def signup_url():
    return f"{portal_url()}/@@messenger-signup"


def site_title():
    # The site's name from Site Setup; the root's Title() is the front page's heading in Plone 6.
    return api.portal.get_registry_record("plone.site_title", default="") or api.portal.get().Title() or ""


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
    return f"{translate(welcome, target_language=language)}\n\n" + translate(
        _how_to_leave(subscriber), target_language=language
    )


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
    """Send ``text`` to ``address`` once, after this transaction commits."""
    recipient = Recipient(str(subscriber_id), channel, str(address), language or "de")
    transaction.get().addAfterCommitHook(_enqueue_after_commit, args=(reply_id, recipient, text))


def _enqueue_after_commit(succeeded, reply_id, recipient, text):
    if not succeeded:
        return
    try:
        enqueue_reply(get_redis(), reply_id, recipient, text)
    except redis.RedisError as error:
        # The citizen can ask again (a new code, /start again); an operator sees why.
        log.warning(
            "Could not queue reply %s for %s subscriber %s: Redis at %s is unreachable (%s).",
            reply_id.split("-", 1)[0],
            recipient.channel,
            recipient.subscriber_id or "-",
            display_url(),
            error,
        )


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


def queue_answer(channel, address, language, kind, text, about=""):
    """A reply to a message that matched no subscriber (unknown link, not subscribed).

    Answered once per address, kind and message, so a repeated webhook delivery does not
    repeat the answer.
    """
    digest = hashlib.sha256(f"{channel}:{address}:{about}".encode()).hexdigest()[:16]
    queue_text(channel, address, language, f"{kind}-{digest}", text)
