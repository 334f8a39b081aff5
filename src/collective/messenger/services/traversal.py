"""Before traversal: prepare requests for the services that read their own bodies.

Anonymous services (signup, webhooks) read the raw body themselves, within 1 MB. But
plone.restapi's JWT plugin parses every "application/json" POST body while authenticating,
looking for a login: all of it, in memory, before any service runs, and with a 500 for a
deeply nested array. Nobody logs in through these services, so that plugin gets an empty
``BODY``. The platforms send no "Accept: application/json", so webhook requests are
marked as API requests here, or plone.rest would not route them to the service.
"""

from plone.rest.events import mark_as_api_request
from plone.rest.interfaces import IAPIRequest

API_NAMESPACE = "++api++"
JSON = "application/json"
WEBHOOK_SERVICE = "@messenger-webhook"
OWN_BODY_SERVICES = ("@messenger-subscriptions", WEBHOOK_SERVICE)


def upcoming_service(request):
    """The first name the request will traverse below the site (after ``++api++``)."""
    upcoming = list(reversed(request.get("TraversalRequestNameStack") or ()))
    if upcoming[:1] == [API_NAMESPACE]:
        upcoming = upcoming[1:]
    return upcoming[0] if upcoming else None


def prepare_own_body_request(site, event):
    """Subscriber (site root, IBeforeTraverseEvent)."""
    request = event.request
    service = upcoming_service(request)
    if service not in OWN_BODY_SERVICES:
        return
    if service == WEBHOOK_SERVICE and not IAPIRequest.providedBy(request):
        mark_as_api_request(request, JSON)
    request.other["BODY"] = b""
