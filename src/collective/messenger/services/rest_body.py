"""Reading the JSON body of a REST request, with a size limit, into a dict.

plone.restapi's ``json_body`` reads any body whole into memory and answers a broken one
with an exception (500 for some inputs). Anonymous services must not: the body is read
only up to the limit, and everything that is not one JSON object becomes a 400 (413 for a
body over 1 MB) with a message a person understands.
"""

import json

from collective.messenger import _
from collective.messenger.services.rest_errors import RestError

MAX_BODY_BYTES = 1024 * 1024
JSON_TYPES = ("application/json",)


def _reject_constant(name):
    # NaN and Infinity are not JSON; Python's parser accepts them unless told otherwise.
    raise ValueError(f"{name} is not JSON")


def content_type(request):
    return (request.getHeader("Content-Type") or "").split(";")[0].strip().lower()


def declared_length(request):
    try:
        return int(request.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        return 0


def raw_body(request, limit=MAX_BODY_BYTES):
    """The body as bytes, at most ``limit``; RestError 413 when it is longer."""
    if declared_length(request) > limit:
        raise too_large()
    body_file = request.get("BODYFILE")
    if body_file is None:
        return b""
    # Zope rewinds the input for a retried request (ConflictError); rewind ourselves too,
    # in case anything read it before.
    body_file.seek(0)
    data = body_file.read(limit + 1)
    if len(data) > limit:
        raise too_large()
    return data if isinstance(data, bytes) else data.encode("utf-8")


def too_large():
    return RestError(
        413,
        "PayloadTooLarge",
        _(
            "error_body_too_large",
            default="The request is too large. Send at most 1 MB.",
        ),
    )


def json_object(request, limit=MAX_BODY_BYTES):
    """The body as a dict; RestError 400 for another content type, broken JSON or no object."""
    if content_type(request) not in JSON_TYPES:
        raise RestError(
            400,
            "BadRequest",
            _(
                "error_body_content_type",
                default="Please send the data as JSON with the header Content-Type: application/json.",
            ),
        )
    data = raw_body(request, limit)
    if not data.strip():
        return {}
    try:
        value = json.loads(data, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        # ValueError covers broken JSON, invalid UTF-8 and integers too long to convert;
        # RecursionError a deeply nested array.
        raise RestError(
            400,
            "BadRequest",
            _("error_body_malformed", default="The request is not valid JSON."),
        )
    if not isinstance(value, dict):
        raise RestError(
            400,
            "BadRequest",
            _("error_body_not_object", default="The request must be one JSON object."),
        )
    return value
