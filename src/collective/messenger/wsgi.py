"""A WSGI filter in front of Zope: answers 400 to requests Zope fails on before its own
error handling runs.

Zope's publisher reads two things before traversal, outside the code that turns errors into
pages, so a bad value there gives a 5xx on every URL (the Zope root included) and, depending
on the error view, a traceback for an anonymous visitor:

- the path must be UTF-8 (``/@messenger-webhook/%80`` raised UnicodeDecodeError);
- a ``multipart/form-data`` body needs its ``boundary`` (without one, Zope's form parser
  raised KeyError; behind waitress every URL answered 503).

The filter checks both with the same parsing Zope uses and answers such a request itself:
400, a sentence a person understands (English or German after Accept-Language; JSON for
clients that ask for JSON), a log line, and the application never sees it. Everything else
passes through untouched. Wire it into the WSGI pipeline in front of Zope (zope.ini)::

    [filter:messenger_guard]
    use = egg:collective.messenger#request_guard

    [pipeline:main]
    pipeline =
        egg:Zope#httpexceptions
        messenger_guard
        translogger
        zope
"""

import json
import logging

from multipart import parse_options_header
from zope.i18n import translate

from collective.messenger import _

log = logging.getLogger("collective.messenger.wsgi")

LANGUAGES = ("en", "de")
NOT_UTF8_PATH = _(
    "request_path_not_utf8",
    default="The address of this request is not valid: it contains bytes that are not UTF-8 "
    "(for example %80). Please check the link.",
)
MULTIPART_WITHOUT_BOUNDARY = _(
    "request_multipart_without_boundary",
    default="The request says it sends a form (multipart/form-data) but names no boundary "
    "between its parts, so it cannot be read.",
)


def problem(environ):
    """Why Zope could not take this request (a translatable message), or None."""
    path = environ.get("PATH_INFO") or ""
    try:
        # PEP 3333 hands the path over as latin-1; Zope decodes its bytes as UTF-8.
        path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return NOT_UTF8_PATH
    content_type, options = parse_options_header(environ.get("CONTENT_TYPE") or "")
    if content_type.lower() == "multipart/form-data" and not options.get("boundary"):
        return MULTIPART_WITHOUT_BOUNDARY
    return None


def preferred_language(environ):
    """The first of our languages in Accept-Language, by quality; English otherwise."""
    ranked = []
    for position, part in enumerate((environ.get("HTTP_ACCEPT_LANGUAGE") or "").split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        language = tag.strip().lower().split("-")[0]
        if language in LANGUAGES and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else LANGUAGES[0]


def refusal(environ, message):
    """(status, headers, body) of the 400 answer."""
    text = translate(message, target_language=preferred_language(environ))
    if "json" in (environ.get("HTTP_ACCEPT") or "").lower():
        body = json.dumps({"error": {"type": "BadRequest", "message": text}}).encode("utf-8")
        content_type = "application/json"
    else:
        body = (text + "\n").encode("utf-8")
        content_type = "text/plain; charset=utf-8"
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    return "400 Bad Request", headers, body


class RequestGuard:
    """The filter: ``RequestGuard(zope_app)`` is a WSGI application."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        message = problem(environ)
        if message is None:
            return self.app(environ, start_response)
        # The path as sent, shortened: enough to find the client's request in the access log.
        log.info("Answered 400 before Zope to %s %r: %s", environ.get("REQUEST_METHOD"),
                 (environ.get("PATH_INFO") or "")[:200], message.default)
        status, headers, body = refusal(environ, message)
        start_response(status, headers)
        return [body]


def filter_factory(global_conf, **local_conf):
    """PasteDeploy's ``paste.filter_factory``: ``use = egg:collective.messenger#request_guard``."""
    return RequestGuard
