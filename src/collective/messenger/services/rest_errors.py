"""Error answers of the messenger REST services, in the shape plone.restapi uses.

``{"error": {"type", "message", "errors": [{"field", "message"}]}}``: ``message`` for a
person, ``errors`` one entry per form field so a front end can mark each field. Messages
are translated into the request's language here, at the edge.
"""

from zope.i18n import translate


class RestError(Exception):
    """Raised inside a service, answered by ``MessengerService`` with ``status`` and JSON.

    ``discard``: throw away what the request changed (rejected input stores nothing).
    Leave it False where a change must be kept although the answer is an error, e.g. a
    counted wrong code attempt.
    """

    def __init__(self, status, type_, message, errors=None, headers=None, discard=True):
        super().__init__(str(message))
        self.status = status
        self.type = type_
        self.message = message
        self.errors = errors or {}
        self.headers = headers or {}
        self.discard = discard


def translated(message, request):
    """A translatable Message (or plain text) as text in the request's language."""
    return translate(message, context=request) if message is not None else ""


def error_body(error, request):
    body = {"type": error.type, "message": translated(error.message, request)}
    if error.errors:
        body["errors"] = [
            {"field": field, "message": translated(message, request)}
            for field, message in sorted(error.errors.items())
        ]
    return {"error": body}
