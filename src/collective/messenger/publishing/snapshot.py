"""An item as the worker's ``Post``, and the recipients of its topics: ``plan_post`` says
everything a post of an item is made of."""

from datetime import timezone
from typing import NamedTuple

from plone import api
from plone.uuid.interfaces import IUUID
from zope.i18n import translate

from collective.messenger import _
from collective.messenger.behaviors.push import teaser_for
from collective.messenger.content.construction_notice import POST_KIND
from collective.messenger.settings.access import registry_proxy
from collective.messenger.subscribers import get_store
from collective.messenger.subscribers.clock import utcnow
from messenger_worker.payload import Post

KIND_BY_TYPE = {"construction_notice": POST_KIND, "Event": "event"}


def kind_for(item):
    return KIND_BY_TYPE.get(item.portal_type, "news")


def topics_of(item):
    return tuple(sorted(set(getattr(item, "messenger_topics", None) or ())))


def wants_sending(item):
    return bool(getattr(item, "messenger_send", True)) and bool(topics_of(item))


def _iso(value):
    """An ISO 8601 string for a datetime, a Zope DateTime or a date; None for nothing."""
    if value is None or value == "":
        return None
    if hasattr(value, "asdatetime"):  # Zope's DateTime
        value = value.asdatetime()
    return value.isoformat()


def language_of(item):
    language = item.Language() or api.portal.get_default_language() or "de"
    return language.split("-")[0].lower()


def image_url(item):
    if getattr(item, "image", None):
        return f"{item.absolute_url()}/@@images/image/large"
    return None


def as_utc(value):
    """A Zope DateTime or a datetime as an aware UTC datetime (None stays None)."""
    if value is None:
        return None
    if hasattr(value, "asdatetime"):
        value = value.asdatetime()
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def effective_of(item):
    return as_utc(getattr(item, "effective_date", None))


def expires_of(item):
    return as_utc(getattr(item, "expiration_date", None))


def due_of(item, now=None):
    """When the post goes out: the effective date if it lies ahead, else now."""
    now = now or utcnow()
    effective = effective_of(item)
    return effective if effective is not None and effective > now else now


def is_expired_at(item, moment):
    expires = expires_of(item)
    return expires is not None and expires <= moment


def with_lead(lead, teaser):
    """The editor's "what is new" line of an update, leading the teaser's paragraph."""
    lead = " ".join((lead or "").split())
    return f"{lead}\n\n{teaser}".strip() if lead else teaser


def post_for(item, kind="initial", post_id="preview", lead=""):
    """What the worker gets for ``item``: title, link, teaser, dates, place, image, template.

    ``lead``: the "what is new" line of "Send update", put before the teaser.
    """
    post_kind = kind_for(item)
    language = language_of(item)
    title = item.Title()
    if kind == "update":
        title = translate(
            _(
                "post_update_title",
                default="Update: ${title}",
                mapping={"title": title},
            ),
            target_language=language,
        )
    template = (
        getattr(registry_proxy(), f"template_{post_kind}", None)
        or "{title}\n\n{teaser}\n\n{url}"
    )
    return Post(
        id=post_id,
        content_uid=IUUID(item),
        kind=post_kind,
        title=title,
        url=item.absolute_url(),
        teaser=with_lead(lead, teaser_for(item)),
        image_url=image_url(item),
        start=_iso(getattr(item, "start", None)),
        end=_iso(getattr(item, "end", None)),
        location=(getattr(item, "location", None) or "").strip(),
        topics=topics_of(item),
        urgent=bool(getattr(item, "messenger_urgent", False)),
        update=kind == "update",
        language=language,
        templates={"default": template},
    )


def recipients_for(topics):
    """The active subscribers of ``topics`` (each once), as rows ``(id, channel, address,
    language)``: the worker's recipient list form, handed over as they are (no object per
    recipient: at 100,000 recipients that alone tripled the publish request's time)."""
    return get_store().active_recipients(topics)


def count_by_channel(recipients):
    counts = {}
    for row in recipients:
        counts[row[1]] = counts.get(row[1], 0) + 1
    return counts


def recipient_counts(item):
    """How many active subscribers would get ``item`` now, per channel."""
    topics = topics_of(item)
    return count_by_channel(recipients_for(topics)) if topics else {}


class PostPlan(NamedTuple):
    """A post of an item as it would be made now (see ``plan_post``)."""

    post: Post
    due: object  # aware UTC datetime
    expired: bool
    recipients: list  # rows (id, channel, address, language)
    counts: dict  # {channel: number of recipients}


def plan_post(item, kind, post_id, lead="", due=None):
    """The post of ``item``, when it goes out (``due``, else by its effective date), whether
    the item has expired by then, and its recipients with their counts per channel.

    The one place that decides these for publishing, "Send update/again", an edit of a
    post not gone out yet, and "Send now".
    """
    post = post_for(item, kind, post_id, lead=lead)
    due = due if due is not None else due_of(item)
    recipients = recipients_for(topics_of(item))
    return PostPlan(
        post, due, is_expired_at(item, due), recipients, count_by_channel(recipients)
    )
