"""A WSGI filter in front of Zope: answers 400 to requests Zope fails on before its own
error handling runs.

Zope's publisher reads a few things before traversal, outside the code that turns errors
into pages, so a bad value there gives a 5xx on every URL (the Zope root included) and,
depending on the error view, a traceback for an anonymous visitor:

- the path must be UTF-8 (``/@messenger-webhook/%80`` raised UnicodeDecodeError);
- a ``multipart/form-data`` body needs its ``boundary`` (without one, Zope's form parser
  raised KeyError; behind waitress every URL answered 503);
- a form's ``charset`` must be one Python knows (LookupError);
- Basic credentials must be base64 of "user:password" (binascii.Error, ValueError);
- typed query parameters must convert (``?a:record=1&a.b:int=x``: ValueError from Zope's
  form marshalling).

The filter checks these with Zope's own code and answers such a request itself: 400, a
sentence a person understands (English or German after Accept-Language; JSON for clients
that ask for JSON), a log line, and the application never sees it. Everything else passes
through untouched. Wire it into the WSGI pipeline in front of Zope (zope.ini)::

    [filter:messenger_guard]
    use = egg:collective.messenger#request_guard

    [pipeline:main]
    pipeline =
        egg:Zope#httpexceptions
        messenger_guard
        translogger
        zope
"""

import codecs
import io
import json
import logging

from multipart import parse_options_header
from zExceptions import BadRequest
from zope.i18n import translate
from ZPublisher.HTTPRequest import HTTPRequest
from ZPublisher.HTTPResponse import HTTPResponse
from ZPublisher.utils import basic_auth_decode

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
BAD_BASIC_AUTH = _(
    "request_bad_basic_auth",
    default="The Authorization header cannot be read: Basic credentials must be "
    '"user:password" in base64.',
)
BAD_QUERY = _(
    "request_bad_query",
    default="A parameter in the address of this request cannot be read (for example text where "
    "a number belongs). Please check the link.",
)
# The bodies Zope parses as a form (ZPublisher.HTTPRequest.ZopeFieldStorage).
FORM_TYPES = (
    "",
    "multipart/form-data",
    "application/x-www-form-urlencoded",
    "application/x-url-encoded",
)
FORM_METHODS = ("POST", "PUT", "PATCH")


def problem(environ):
    """Why Zope could not take this request (a translatable message), or None."""
    path = environ.get("PATH_INFO") or ""
    try:
        # PEP 3333 hands the path over as latin-1; Zope decodes its bytes as UTF-8.
        path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return NOT_UTF8_PATH
    content_type, options = parse_options_header(environ.get("CONTENT_TYPE") or "")
    content_type = content_type.lower()
    if content_type == "multipart/form-data" and not options.get("boundary"):
        return MULTIPART_WITHOUT_BOUNDARY
    method = (environ.get("REQUEST_METHOD") or "GET").upper()
    charset = options.get("charset")
    if (
        charset
        and method in FORM_METHODS
        and content_type in FORM_TYPES
        and not known_charset(charset)
    ):
        return _(
            "request_unknown_charset",
            default="The request's form is in a character set that is not known (charset=${charset}).",
            mapping={"charset": charset[:40]},
        )
    if not readable_basic_auth(environ.get("HTTP_AUTHORIZATION")):
        return BAD_BASIC_AUTH
    reason = query_problem(environ)
    if reason:
        # Zope's reason (which echoes the value) goes to the log only.
        log.info("Zope cannot read the query string of %r: %s", path[:200], reason)
        return BAD_QUERY
    return None


def known_charset(name):
    try:
        codecs.lookup(name)
    except (LookupError, ValueError):
        return False
    return True


def readable_basic_auth(value):
    """Whether Zope can decode the Authorization header (it ignores all but "Basic ...")."""
    try:
        basic_auth_decode(value)
    except Exception:  # binascii.Error, UnicodeDecodeError, ValueError (no colon)
        return False
    return True


def query_problem(environ):
    """Why Zope's form marshalling fails on the query string (in Zope's words), or None.

    Only typed or structured parameters (``name:int``, ``name:record``) can fail; a query
    string with a colon goes through Zope's own ``processInputs`` on a throwaway request.
    """
    query = environ.get("QUERY_STRING") or ""
    if ":" not in query and "%3a" not in query.lower():
        return None
    probe = {
        key: environ[key]
        for key in (
            "SERVER_NAME",
            "SERVER_PORT",
            "HTTP_HOST",
            "SCRIPT_NAME",
            "PATH_INFO",
        )
        if key in environ
    }
    probe.update(REQUEST_METHOD="GET", QUERY_STRING=query)
    try:
        request = HTTPRequest(io.BytesIO(b""), probe, HTTPResponse())
    except Exception:
        return None  # not the query's fault: Zope judges the request itself
    try:
        request.processInputs()
    except BadRequest:
        return None  # Zope answers 400 itself
    except Exception as error:
        return str(error)[:200] or type(error).__name__
    return None


def preferred_language(environ):
    """The first of our languages in Accept-Language, by quality; English otherwise."""
    ranked = []
    for position, part in enumerate(
        (environ.get("HTTP_ACCEPT_LANGUAGE") or "").split(",")
    ):
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
        body = json.dumps({"error": {"type": "BadRequest", "message": text}}).encode(
            "utf-8"
        )
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
        log.info(
            "Answered 400 before Zope to %s %r: %s",
            environ.get("REQUEST_METHOD"),
            (environ.get("PATH_INFO") or "")[:200],
            translate(message),
        )
        status, headers, body = refusal(environ, message)
        start_response(status, headers)
        return [body]


def filter_factory(global_conf, **local_conf):
    """PasteDeploy's ``paste.filter_factory``: ``use = egg:collective.messenger#request_guard``."""
    return RequestGuard
