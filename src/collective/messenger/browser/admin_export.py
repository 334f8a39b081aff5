"""Everything the site keeps about one subscriber, as a JSON document for a GDPR access request.

Every field of the record is listed, the consent record included. The secrets are not:
the personal manage token (it would let whoever holds the file change the subscription)
and the confirmation token or the code hash of a pending signup. The export says that
they exist, which is what the person has a right to know.
"""

from datetime import timedelta

from zope.i18n import translate

from collective.messenger import _
from collective.messenger.housekeeping.sweep import erase_after_days


def iso(moment):
    return moment.isoformat() if moment is not None else None


def subscriber_data(subscriber, topic_titles, request):
    """The export document for ``subscriber``; topic titles help the person read it."""
    consent = subscriber.consent
    record = {
        "id": subscriber.id,
        "channel": subscriber.channel,
        "address": subscriber.address,
        "state": subscriber.state,
        "topics": [
            {"id": topic, "title": topic_titles.get(topic, topic)}
            for topic in subscriber.topics
        ],
        "mode": subscriber.mode,
        "language": subscriber.language,
        "created": iso(subscriber.created),
        "changed": iso(subscriber.changed),
        "confirmed": iso(subscriber.confirmed),
        "unsubscribed": iso(subscriber.unsubscribed),
        "consent": {
            "privacy_version": consent.privacy_version,
            "path": consent.path,
            "given_at": iso(consent.given_at),
        },
    }
    notes = [
        _(
            "export_note_manage_token",
            default="The record also holds a personal secret link for managing the "
            "subscription (sent in the welcome message). It is not part of this export "
            "because anyone who has it could change the subscription.",
        )
    ]
    if subscriber.has_left:
        # How long the record is kept is part of what the person has a right to know.
        days = erase_after_days()
        record["left"] = iso(subscriber.left_at)
        record["erased_on"] = iso(subscriber.left_at + timedelta(days=days))
        notes.append(
            _(
                "export_note_erasure",
                default="This subscription has ended. The record is erased on ${date}, "
                "${days} days after leaving; only anonymous counts remain.",
                mapping={"date": record["erased_on"][:10], "days": days},
            )
        )
    if subscriber.is_pending:
        record["confirm_expires"] = iso(subscriber.confirm_expires)
        code = subscriber.code
        record["code"] = (
            {"expires": iso(code.expires), "attempts": code.attempts} if code else None
        )
        notes.append(
            _(
                "export_note_pending",
                default="This signup is not confirmed. It holds a secret confirmation token "
                "(and for Signal or Threema a hash of the code sent), which are not "
                "exported. Unconfirmed signups are deleted 24 hours after the signup.",
            )
        )
    return {
        "subscriber": record,
        "notes": [translate(note, context=request) for note in notes],
    }
