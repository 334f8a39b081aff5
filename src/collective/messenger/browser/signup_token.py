"""The signup form's own token, so another site cannot make its visitors' browsers send codes.

The signup page and portlet are anonymous and may be served from a caching proxy, so the
token cannot be per visitor: it is an HMAC of a six-hour window with a key of the site's
keyring (as ``manage_csrf``), valid for two days of windows, the same in every copy of a
cached page. A token can be read by anyone who loads the page, so a POST that the browser
itself declares cross-site (``Sec-Fetch-Site: cross-site``, or an ``Origin`` of another
host where the browser sends no Sec-Fetch-Site) is refused as well: that is what stops
another site's form, whatever token it copied. The REST API is not a browser form and needs
neither.
"""

import time
from urllib.parse import urlsplit

from collective.messenger import _
from collective.messenger.browser import keyring_mac

FIELD = "form_token"
PURPOSE = b"collective.messenger.signup:"
WINDOW_SECONDS = 6 * 3600
VALID_WINDOWS = 8  # two days: a page a proxy cached for a day still works

CROSS_SITE = _(
    "error_signup_cross_site",
    default="This signup came from another website and was not processed. If you want to "
    "subscribe, please use the form on this page.",
)
OUT_OF_DATE = _(
    "error_signup_form_expired",
    default="This form was out of date. Please check your entries and send it again.",
)


def _window(now=None):
    return int((now if now is not None else time.time()) // WINDOW_SECONDS)


def form_token(now=None):
    window = _window(now)
    return f"{window}.{keyring_mac.sign(PURPOSE, str(window))}"


def is_valid(value, now=None):
    if not isinstance(value, str) or value.count(".") != 1:
        return False
    window, _sep, mac = value.partition(".")
    if not window.isdigit():
        return False
    age = _window(now) - int(window)
    # -1: another Zope instance whose clock runs a little ahead rendered the page.
    if not -1 <= age < VALID_WINDOWS:
        return False
    return keyring_mac.verify(PURPOSE, str(int(window)), mac)


def is_cross_site(request):
    """Whether the browser says this POST comes from a page of another site."""
    fetch_site = (request.getHeader("Sec-Fetch-Site") or "").strip().lower()
    if fetch_site:
        return fetch_site == "cross-site"
    origin = (request.getHeader("Origin") or "").strip()
    if not origin or origin == "null":
        # No Origin (old browsers, scripts) or "null" (our own pages send no referrer, so a
        # browser sends "null" for their forms): the token decides.
        return False
    own_host = urlsplit(request.get("SERVER_URL") or "").netloc.lower()
    return urlsplit(origin).netloc.lower() != own_host


def refusal(request):
    """None for a POST of our own form, else the message to show (nothing is done then)."""
    if is_cross_site(request):
        return CROSS_SITE
    if not is_valid(request.form.get(FIELD)):
        return OUT_OF_DATE
    return None
