"""``@@messenger-erase``: "Erase all messenger data", before uninstalling (Manage messenger).

Plone's add-on panel offers no options when uninstalling, and uninstalling keeps the
subscribers for a reinstall. This page is the other choice: it names what goes, asks for
an explicit confirmation and erases by POST with Plone's authenticator (``erasure``).
"""

import logging

import redis
from plone import api
from plone.protect import CheckAuthenticator
from Products.Five.browser import BrowserView
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from Products.statusmessages.interfaces import IStatusMessage
from zope.i18n import translate

from collective.messenger import _
from collective.messenger import erasure
from messenger_worker.connection import display_url

logger = logging.getLogger("collective.messenger")

CONFIRM_FIELD = "confirm"
CONFIRM_VALUE = "erase"


class EraseAllView(BrowserView):
    index = ViewPageTemplateFile("templates/erase.pt")

    def __call__(self):
        self.request.response.setHeader("Cache-Control", "private, no-store")
        self.error = None
        if self.request.method == "POST":
            CheckAuthenticator(self.request)  # Forbidden (403) without a valid token
            if "form.buttons.cancel" in self.request.form:
                self.request.response.redirect(self.dashboard_url(), status=303)
                return ""
            if self.erase():
                self.request.response.redirect(self.url(), status=303)
                return ""
        try:
            self.items = erasure.inventory(api.portal.get())
            self.redis_error = None
        except redis.RedisError as error:
            self.items = None
            self.redis_error = str(error)
        return self.index()

    def erase(self):
        """Erase when confirmed; True when done, else ``self.error`` says why (nothing erased)."""
        if self.request.form.get(CONFIRM_FIELD) != CONFIRM_VALUE:
            self.request.response.setStatus(400)
            self.error = _(
                "error_erase_unconfirmed",
                default="Nothing was erased: tick the box to confirm that all messenger data "
                "should be erased for good.",
            )
            return False
        user = api.user.get_current().getId()
        try:
            erased = erasure.erase_all(api.portal.get(), user=user)
        except redis.RedisError as error:
            self.request.response.setStatus(503)
            self.error = _(
                "error_erase_redis",
                default="Nothing was erased: Redis at ${url} is not reachable (${error}). The "
                "addresses in Redis must go too, so try again once it is back.",
                mapping={"url": display_url(), "error": str(error)},
            )
            return False
        IStatusMessage(self.request).addStatusMessage(
            _(
                "info_erased_all",
                default="All messenger data was erased: subscribers ${subscribers}, posts "
                "${posts}, Redis keys ${keys}, queue jobs ${jobs}. Pack the database to remove "
                "old revisions, then uninstall the add-on if you wish.",
                mapping={
                    "subscribers": erased["subscribers"],
                    "posts": erased["posts"],
                    "keys": erased["redis_keys"],
                    "jobs": erased["jobs"],
                },
            ),
            "info",
        )
        return True

    def t(self, message):
        return translate(message, context=self.request)

    def url(self):
        return f"{api.portal.get().absolute_url()}/@@messenger-erase"

    def dashboard_url(self):
        return f"{api.portal.get().absolute_url()}/@@messenger-dashboard"

    def addons_url(self):
        return f"{api.portal.get().absolute_url()}/@@prefs_install_products_form"

    def redis_url(self):
        return display_url()
