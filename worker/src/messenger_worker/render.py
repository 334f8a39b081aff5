"""Turn a post into text for one channel: fill its template, format dates, cut to a limit.

Channels share this module and differ only in how they mark up the pieces (Telegram HTML,
Signal's styled text, plain text elsewhere), so the template rules are the same everywhere:

- placeholders are {title} {teaser} {url} {start} {end} {location}; other braces stay as typed;
- a template line whose placeholders all came out empty is dropped ("Ort: {location}" for a
  post without a location), and runs of blank lines left behind collapse into one;
- dates are written for German readers, or English ones when ``post.language == "en"``, in
  the offset the ISO string carries (the editor's local time), never converted.
"""

import re
from datetime import date
from datetime import datetime

PLACEHOLDERS = ("title", "teaser", "url", "start", "end", "location")
PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
ELLIPSIS = "…"

READ_MORE = {"de": "Weiterlesen", "en": "Read more"}

GERMAN_WEEKDAYS = ("Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So.")
ENGLISH_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ENGLISH_MONTHS = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


def is_english(language):
    return (language or "").lower().startswith("en")


def read_more_label(language):
    """Label of the link button under a post."""
    return READ_MORE["en"] if is_english(language) else READ_MORE["de"]


# Dates ---------------------------------------------------------------------------------


def parse_when(value):
    """A datetime (or a date for all-day values) from an ISO 8601 string; None if unreadable."""
    if not value:
        return None
    text = str(value).strip()
    if text.endswith(("Z", "z")):  # fromisoformat before Python 3.11 does not read "Z"
        text = text[:-1] + "+00:00"
    if "T" not in text and " " not in text:
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _format_date(day, english):
    if english:
        return f"{ENGLISH_WEEKDAYS[day.weekday()]}, {day.day} {ENGLISH_MONTHS[day.month - 1]} {day.year}"
    return f"{GERMAN_WEEKDAYS[day.weekday()]}, {day:%d.%m.%Y}"


def _format_time(moment, english):
    return f"{moment:%H:%M}" if english else f"{moment:%H:%M} Uhr"


def format_start(value, language="de"):
    """ "Mo., 23.11.2026, 07:00 Uhr" / "Mon, 23 Nov 2026, 07:00"; raw text if unreadable."""
    when = parse_when(value)
    if when is None:
        return str(value or "")
    english = is_english(language)
    if not isinstance(when, datetime):
        return _format_date(when, english)
    return f"{_format_date(when, english)}, {_format_time(when, english)}"


def format_end(value, start=None, language="de"):
    """Like ``format_start``, but only the time when the end falls on the start's day."""
    when, begin = parse_when(value), parse_when(start)
    if when is None:
        return str(value or "")
    if (
        isinstance(when, datetime)
        and isinstance(begin, datetime)
        and when.date() == begin.date()
    ):
        return _format_time(when, is_english(language))
    return format_start(value, language)


# Templates -----------------------------------------------------------------------------


def placeholder_values(post):
    """The plain text of every placeholder for ``post`` (empty string when absent)."""
    return {
        "title": (post.title or "").strip(),
        "teaser": (post.teaser or "").strip(),
        "url": (post.url or "").strip(),
        "start": format_start(post.start, post.language) if post.start else "",
        "end": format_end(post.end, post.start, post.language) if post.end else "",
        "location": (post.location or "").strip(),
    }


def _same(text):
    return text


def fill(template, values, literal=_same, value=None):
    """Fill ``template`` with ``values``.

    ``literal(text)`` turns the template's own text into the channel's markup (e.g. HTML
    escaping), ``value(name, text)`` a placeholder's value (e.g. a bold title); both default
    to leaving text as it is. Whether a line is dropped depends on the plain values only.
    """
    value = value or (lambda name, text: literal(text))
    lines = []
    for line in template.replace("\r\n", "\n").split("\n"):
        names = PLACEHOLDER.findall(line)
        if names and not any(values.get(name) for name in names):
            continue
        parts, position = [], 0
        for match in PLACEHOLDER.finditer(line):
            parts.append(literal(line[position : match.start()]))
            text = values.get(match.group(1), "")
            parts.append(value(match.group(1), text) if text else "")
            position = match.end()
        parts.append(literal(line[position:]))
        lines.append("".join(parts).rstrip())
    return _tidy_blank_lines(lines)


def fill_marked_up(template, values, escape, bold):
    """``fill`` for a markup: everything escaped with ``escape``, the title wrapped by ``bold``."""

    def value(name, text):
        return bold(escape(text)) if name == "title" else escape(text)

    return fill(template, values, literal=escape, value=value)


def _tidy_blank_lines(lines):
    tidy = []
    for line in lines:
        if not line.strip() and (not tidy or not tidy[-1].strip()):
            continue
        tidy.append(line)
    while tidy and not tidy[-1].strip():
        tidy.pop()
    return "\n".join(tidy)


# Cutting -------------------------------------------------------------------------------


def utf8_size(text):
    return len(text.encode("utf-8"))


def utf16_size(text):
    """Length as Telegram counts it (UTF-16 code units: an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def _prefix_within(text, limit, size):
    """The longest prefix of ``text`` whose size is at most ``limit``, whole characters only."""
    if size is len:
        return text[:limit]
    used = 0
    for index, character in enumerate(text):
        used += size(character)
        if used > limit:
            return text[:index]
    return text


def cut_bytes(text, limit):
    """``text`` cut to at most ``limit`` UTF-8 bytes without splitting a character."""
    return text.encode("utf-8")[: max(limit, 0)].decode("utf-8", errors="ignore")


def cut_words(text, limit, size=len):
    """``text`` cut to ``limit`` (measured by ``size``) on a word boundary, ending in "…".

    A single word longer than half the room is cut inside, so that a long first word does not
    leave nearly nothing.
    """
    if size(text) <= limit:
        return text
    room = limit - size(ELLIPSIS)
    if room <= 0:
        return _prefix_within(ELLIPSIS, limit, size)
    head = _prefix_within(text, room, size)
    cut_between_words = len(head) < len(text) and text[len(head)].isspace()
    if not cut_between_words:
        boundary = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        if boundary >= len(head) // 2:
            head = head[:boundary]
    return head.rstrip() + ELLIPSIS


# Which values give way first when a post is too long; the url never does.
SHORTEN_ORDER = ("teaser", "location", "title")


def fit_values(template, values, limit, size=len):
    """``values`` with the teaser (then location, then title) cut so the filled template fits.

    Measures the plain text, which is what platforms count (Telegram counts its limits after
    parsing the HTML). Returns the values unchanged when they already fit; when the template's
    own text, the dates and the link alone are too long, the platform's refusal says so.
    """
    values = dict(values)
    for name in SHORTEN_ORDER:
        excess = size(fill(template, values)) - limit
        if excess <= 0:
            return values
        original = values.get(name) or ""
        if not original:
            continue
        target = size(original) - excess
        values[name] = (
            cut_words(original, target, size) if target > size(ELLIPSIS) else ""
        )
    return values
