"""The demo's WSGI settings in ``zope.ini``, as README's "Zope in production" recommends.

- waitress takes at most ``MAX_REQUEST_BODY_BYTES`` of request body (its default is 1 GB,
  buffered to disk); larger requests get 413 before Zope sees them;
- the add-on's WSGI filter (``collective.messenger.wsgi``) answers 400 to requests Zope
  cannot take (a path that is not UTF-8, a form without a multipart boundary).

``prepare`` edits the file that ``mkwsgiinstance`` wrote, also one made by an earlier demo,
and changes nothing on a second run.
"""

import re

# Large enough for the images and PDFs editors upload; the signup and webhook services
# refuse bodies over 1 MB themselves.
MAX_REQUEST_BODY_BYTES = 64 * 1024 * 1024
FILTER_NAME = "messenger_guard"
FILTER_SECTION = f"""[filter:{FILTER_NAME}]
use = egg:collective.messenger#request_guard

"""


class ZopeIniError(Exception):
    """zope.ini does not have the shape mkwsgiinstance gives it."""


def _section(text, name):
    """(start, end) of the body of ``[name]``: from after its header to the next header."""
    header = re.search(rf"(?m)^\[{re.escape(name)}\][ \t]*\n", text)
    if header is None:
        raise ZopeIniError(f"zope.ini has no [{name}] section.")
    following = re.compile(r"(?m)^\[").search(text, header.end())
    return header.end(), following.start() if following else len(text)


def _set_body_limit(text):
    start, end = _section(text, "server:main")
    body = text[start:end]
    line = f"max_request_body_size = {MAX_REQUEST_BODY_BYTES}"
    body, count = re.subn(r"(?m)^max_request_body_size\s*=.*$", line, body)
    if not count:
        body, count = re.subn(r"(?m)^(port\s*=.*)$", rf"\1\n{line}", body, count=1)
        if not count:
            body = line + "\n" + body
    return text[:start] + body + text[end:]


def _add_filter(text):
    start, end = _section(text, "pipeline:main")
    pipeline = text[start:end]
    if re.search(rf"(?m)^\s+{FILTER_NAME}\s*$", pipeline) is None:
        # After the access log (translogger logs the 400s too), before Zope.
        pipeline, count = re.subn(
            r"(?m)^(\s+)(translogger)\s*$", rf"\1\2\n\1{FILTER_NAME}", pipeline, count=1
        )
        if not count:
            pipeline, count = re.subn(
                r"(?m)^(\s+)(zope)\s*$", rf"\1{FILTER_NAME}\n\1\2", pipeline, count=1
            )
        if not count:
            raise ZopeIniError(
                "Found no 'zope' application in zope.ini's [pipeline:main]."
            )
    text = text[:start] + pipeline + text[end:]
    if f"[filter:{FILTER_NAME}]" not in text:
        header = text.index("[pipeline:main]")
        text = text[:header] + FILTER_SECTION + text[header:]
    return text


def configure(text):
    """``text`` of zope.ini with the body limit and the filter."""
    return _add_filter(_set_body_limit(text))


def prepare(path):
    with open(path, encoding="utf-8") as ini:
        text = ini.read()
    changed = configure(text)
    if changed != text:
        with open(path, "w", encoding="utf-8") as ini:
            ini.write(changed)
