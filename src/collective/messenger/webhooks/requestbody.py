"""Reading a webhook's body: within a size limit, as JSON, never trusting the client's word.

The limit is checked twice: against the declared Content-Length before anything is read,
and against the bytes actually there (a client may declare less than it sends, or nothing
with chunked encoding). Only ``limit + 1`` bytes are ever read into memory.
"""

import json

from collective.messenger import _

MAX_BODY_BYTES = 1024 * 1024
JSON_TYPES = ("application/json",)


class Rejected(Exception):
    """The request is answered with ``status`` and ``message`` (translatable) and nothing else."""

    def __init__(self, status, message):
        super().__init__(str(message))
        self.status = status
        self.message = message


def too_large(limit):
    return Rejected(
        413,
        _(
            "webhook_too_large",
            default="The request body is larger than ${limit} bytes.",
            mapping={"limit": limit},
        ),
    )


def declared_length(request):
    """The Content-Length the client declared, or None; a malformed one is refused."""
    value = request.environ.get("CONTENT_LENGTH")
    if value in (None, ""):
        return None
    value = str(value).strip()
    if not value.isdigit():
        raise Rejected(
            400,
            _(
                "webhook_bad_length",
                default="The Content-Length header is not a number.",
            ),
        )
    return int(value)


def read_body(request, limit=MAX_BODY_BYTES):
    """The raw request body (bytes); raises Rejected (413) when it exceeds ``limit``."""
    declared = declared_length(request)
    if declared is not None and declared > limit:
        raise too_large(limit)
    bodyfile = request.get("BODYFILE")
    if bodyfile is None:
        return b""
    bodyfile.seek(0)
    body = bodyfile.read(limit + 1)
    bodyfile.seek(0)
    if len(body) > limit:
        raise too_large(limit)
    return body if isinstance(body, bytes) else body.encode("latin-1")


def media_type(request):
    """The request's media type without parameters, lower case ("" when none was sent)."""
    value = request.environ.get("CONTENT_TYPE") or ""
    return value.split(";", 1)[0].strip().lower()


def parse_json(request, body):
    """The JSON object in ``body``; raises Rejected (400) for another content type or bad JSON."""
    if media_type(request) not in JSON_TYPES:
        raise Rejected(
            400,
            _(
                "webhook_not_json",
                default="The request body must be JSON (Content-Type: application/json).",
            ),
        )
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        # ValueError covers malformed JSON and undecodable bytes; RecursionError absurd nesting.
        raise Rejected(
            400, _("webhook_bad_json", default="The request body is not valid JSON.")
        )
    if not isinstance(data, dict):
        raise Rejected(
            400,
            _("webhook_not_object", default="The request body must be a JSON object."),
        )
    return data
