"""What a subscriber may change through ``PATCH @messenger-subscriptions/<manage token>``.

Every field is checked before anything changes, so a request with one wrong field changes
nothing and the answer names every wrong field.
"""

from plone import api

from collective.messenger import _
from collective.messenger.signup import offer
from collective.messenger.signup.flow import LANGUAGE
from collective.messenger.signup.flow import MAX_TOPICS
from collective.messenger.subscribers.model import MODES
from collective.messenger.subscribers.model import UNSUBSCRIBED

MAX_FIELD_NAME = 64
CHANGEABLE = ("topics", "mode", "language", "state")
# Fields of the GET answer a client may send back unchanged (GET, edit, PATCH); ignored.
READ_ONLY = (
    "@id",
    "channel",
    "address",
    "created",
    "confirmed",
    "unsubscribed",
    "manage_url",
)


def site_languages():
    languages = (
        api.portal.get_registry_record("plone.available_languages", default=None) or []
    )
    default = api.portal.get_registry_record("plone.default_language", default=None)
    return {language.lower() for language in [*languages, default] if language}


def parse_changes(body, subscriber):
    """``body`` checked: a dict of the changes to make; raises ``ChangesInvalid``."""
    errors = {}
    changes = {}
    for field in body:
        if field not in CHANGEABLE and field not in READ_ONLY:
            # Named in the answer, so shortened: a client could send a 1 MB name.
            errors[field[:MAX_FIELD_NAME]] = _(
                "error_field_unknown", default="This field cannot be changed."
            )

    if "topics" in body:
        topics = body["topics"]
        allowed = {topic["id"] for topic in offer.offered_topics()} | set(
            subscriber.topics
        )
        if not isinstance(topics, list) or not topics:
            errors["topics"] = _(
                "error_topics_missing", default="Please choose at least one topic."
            )
        elif len(topics) > MAX_TOPICS or not all(
            isinstance(topic, str) and topic in allowed for topic in topics
        ):
            errors["topics"] = _(
                "error_topics_unknown", default="Please choose from the topics offered."
            )
        else:
            changes["topics"] = sorted(set(topics))

    if "mode" in body:
        if not isinstance(body["mode"], str) or body["mode"] not in MODES:
            errors["mode"] = _(
                "error_mode_unknown",
                default="Please choose how often you want messages: ${modes}.",
                mapping={"modes": ", ".join(MODES)},
            )
        else:
            changes["mode"] = body["mode"]

    if "language" in body:
        language = body["language"]
        if (
            not isinstance(language, str)
            or not LANGUAGE.match(language)
            or (language != subscriber.language and language not in site_languages())
        ):
            errors["language"] = _(
                "error_language_unknown",
                default="Please choose one of the site's languages: ${languages}.",
                mapping={"languages": ", ".join(sorted(site_languages()))},
            )
        else:
            changes["language"] = language

    if "state" in body:
        if body["state"] == subscriber.state:
            pass
        elif body["state"] == UNSUBSCRIBED:
            changes["state"] = UNSUBSCRIBED
        else:
            errors["state"] = _(
                "error_state_change",
                default='You can only leave here (state "unsubscribed"). To subscribe again, '
                "please sign up again.",
            )

    if errors:
        raise ChangesInvalid(errors)
    return changes


class ChangesInvalid(ValueError):
    def __init__(self, errors):
        super().__init__(", ".join(sorted(errors)))
        self.errors = errors
