"""The base of the messenger REST services: path parameters, JSON errors, CSRF, caching."""

import transaction
from plone.protect.interfaces import IDisableCSRFProtection
from plone.restapi.services import Service
from zope.interface import alsoProvides
from zope.interface import implementer
from zope.publisher.interfaces import IPublishTraverse

from collective.messenger import _
from collective.messenger.services.rest_errors import error_body
from collective.messenger.services.rest_errors import RestError

MAX_PARAMS = 4


@implementer(IPublishTraverse)
class MessengerService(Service):
    """Subclasses implement ``answer()``; a ``RestError`` raised there becomes its JSON answer.

    Errors are returned, not raised: plone.restapi turns a raised exception into a 500 for
    anything it does not know, and Zope aborts the transaction, which would also lose
    changes that must stay (a counted wrong code). ``RestError.discard`` dooms the
    transaction instead where nothing may be stored.
    """

    # Answers carry tokens or personal data: no shared cache may keep them.
    private = True

    def __init__(self, context, request):
        super().__init__(context, request)
        self.params = []

    def publishTraverse(self, request, name):
        # Path segments after the service name (/confirm, /<manage token>) are parameters.
        self.params.append(name)
        return self

    def reply(self):
        if self.request.get("REQUEST_METHOD", "GET") == "POST":
            # plone.protect checks POSTs of logged-in users for a form token. A cross-site
            # page cannot send these requests: plone.rest routes only requests with
            # "Accept: application/json" here and the services accept only
            # "Content-Type: application/json" bodies, both of which need a CORS preflight.
            alsoProvides(self.request, IDisableCSRFProtection)
        if self.private:
            self.request.response.setHeader("Cache-Control", "no-store")
        try:
            if len(self.params) > MAX_PARAMS:
                raise not_found()
            return self.answer()
        except RestError as error:
            if error.discard:
                transaction.doom()
            response = self.request.response
            response.setStatus(error.status)
            for name, value in error.headers.items():
                response.setHeader(name, value)
            return error_body(error, self.request)

    def answer(self):
        raise NotImplementedError


def not_found(message=None):
    return RestError(
        404,
        "NotFound",
        message
        or _("error_rest_not_found", default="There is nothing at this address."),
    )
