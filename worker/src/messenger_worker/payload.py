"""The contract between Plone and the workers: a post snapshot and recipient batches.

Plone writes a ``Post`` as JSON to Redis once per post and enqueues jobs whose arguments are
plain JSON (see ``jobs``), so the payload must stay JSON-serialisable and versioned:
a worker refuses a snapshot whose ``version`` it does not know instead of guessing.
"""

import json
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field

CONTRACT_VERSION = 1

KINDS = ("news", "event", "construction_notice", "alert")

RECIPIENT_FIELDS = ("subscriber_id", "channel", "address", "language")
RECIPIENT_LAYOUT = f"[{', '.join(RECIPIENT_FIELDS)}]"


class PayloadError(ValueError):
    """A snapshot or batch that this worker cannot read; the message says why."""


def _kind(value):
    """What ``value`` is, without its content: "a dict", "null"."""
    if value is None:
        return "null"
    name = type(value).__name__
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


@dataclass(frozen=True)
class Post:
    """What a worker needs to render and send one post, whatever happens to the item later."""

    id: str
    content_uid: str
    kind: str
    title: str
    url: str
    teaser: str = ""
    image_url: str | None = None
    start: str | None = None  # ISO 8601 with offset, e.g. 2026-11-23T07:00:00+01:00
    end: str | None = None
    location: str = ""
    topics: tuple = ()
    urgent: bool = False
    update: bool = False  # "Send update" of an item that was sent before
    language: str = "de"
    # Message template per channel name (placeholders as in the control panel);
    # "default" is used for channels without their own.
    templates: dict = field(default_factory=dict)
    version: int = CONTRACT_VERSION

    def template_for(self, channel):
        return (
            self.templates.get(channel)
            or self.templates.get("default")
            or "{title}\n\n{teaser}\n\n{url}"
        )

    def to_dict(self):
        data = asdict(self)
        data["topics"] = list(self.topics)
        return data

    def to_json(self):
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict):
            raise PayloadError("A post snapshot must be a JSON object.")
        version = data.get("version")
        if version != CONTRACT_VERSION:
            raise PayloadError(
                f"Post snapshot version {version!r} is not supported by this worker "
                f"(it reads version {CONTRACT_VERSION}); upgrade messenger-worker."
            )
        if data.get("kind") not in KINDS:
            raise PayloadError(
                f"Unknown post kind {data.get('kind')!r}; expected one of {KINDS}."
            )
        known = set(cls.__dataclass_fields__)
        missing = {"id", "content_uid", "title", "url"} - set(data)
        if missing:
            raise PayloadError(f"Post snapshot lacks {', '.join(sorted(missing))}.")
        values = {key: value for key, value in data.items() if key in known}
        values["topics"] = tuple(values.get("topics") or ())
        return cls(**values)

    @classmethod
    def from_json(cls, text):
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as error:
            raise PayloadError(f"Post snapshot is not JSON: {error}") from None
        return cls.from_dict(data)


@dataclass(frozen=True)
class Recipient:
    """One subscriber on one channel. ``address`` is the chat id, wa_id, number or Threema ID."""

    subscriber_id: str
    channel: str
    address: str
    language: str = "de"

    def to_list(self):
        # Compact in job arguments: a 100,000-recipient post is 200 jobs of 500 of these.
        return [self.subscriber_id, self.channel, self.address, self.language]

    @classmethod
    def from_list(cls, values):
        # The errors say what is wrong but never show the row: it holds an address (a phone
        # number), and the message lands in the failed job's result in Redis and in logs.
        if not isinstance(values, (list, tuple)):
            raise PayloadError(
                f"A recipient is a list {RECIPIENT_LAYOUT}, not {_kind(values)}."
            )
        if len(values) != len(RECIPIENT_FIELDS):
            raise PayloadError(
                f"A recipient is a list {RECIPIENT_LAYOUT}; one has {len(values)} "
                f"values instead of {len(RECIPIENT_FIELDS)}."
            )
        subscriber_id, channel, address, language = values
        if not isinstance(subscriber_id, (str, int)) or isinstance(subscriber_id, bool):
            raise PayloadError(
                f"A recipient's subscriber_id must be text or a number, not {_kind(subscriber_id)}."
            )
        for name, value, kinds in (
            ("channel", channel, str),
            ("address", address, (str, int)),
        ):
            if not isinstance(value, kinds) or isinstance(value, bool):
                raise PayloadError(
                    f"Recipient of subscriber {subscriber_id}: the {name} must be "
                    f"{'text' if kinds is str else 'text or a number'}, not {_kind(value)}."
                )
        return cls(str(subscriber_id), channel, str(address), language)
