"""Test layers: a real Redis, and a Plone site with the add-on installed."""

import os

from plone.app.testing import FunctionalTesting
from plone.app.testing import IntegrationTesting
from plone.app.testing import PLONE_FIXTURE
from plone.app.testing import PloneSandboxLayer
from plone.app.testing import applyProfile
from plone.testing import Layer
from plone.testing.zope import WSGIServer

from messenger_worker.connection import REDIS_URL_VARIABLE
from messenger_worker.testing import RedisServer


class RedisLayer(Layer):
    """Starts ``redis-server`` on a free loopback port and points MESSENGER_REDIS_URL at it."""

    def setUp(self):
        self.server = RedisServer().start()
        self["redis_server"] = self.server
        self._previous_url = os.environ.get(REDIS_URL_VARIABLE)
        os.environ[REDIS_URL_VARIABLE] = self.server.url

    def tearDown(self):
        if self._previous_url is None:
            os.environ.pop(REDIS_URL_VARIABLE, None)
        else:
            os.environ[REDIS_URL_VARIABLE] = self._previous_url
        self.server.remove()


REDIS_FIXTURE = RedisLayer(name="collective.messenger:Redis")


class MessengerLayer(PloneSandboxLayer):
    defaultBases = (REDIS_FIXTURE, PLONE_FIXTURE)

    def setUpZope(self, app, configurationContext):
        import plone.restapi

        import collective.messenger

        self.loadZCML(package=plone.restapi)
        self.loadZCML(package=collective.messenger)

    def setUpPloneSite(self, portal):
        applyProfile(portal, "collective.messenger:default")
        # As on a real site (plone.app.testing's site has no workflow): items are published.
        portal.portal_workflow.setDefaultChain("simple_publication_workflow")


FIXTURE = MessengerLayer()


class GuardedWSGIServer(WSGIServer):
    """plone.testing's WSGI server with the add-on's WSGI filter in front, as in production."""

    def make_wsgi_app(self):
        from collective.messenger.wsgi import RequestGuard

        return RequestGuard(super().make_wsgi_app())


WSGI_SERVER_FIXTURE = GuardedWSGIServer(name="collective.messenger:WSGIServer")

INTEGRATION_TESTING = IntegrationTesting(
    bases=(FIXTURE,), name="collective.messenger:Integration"
)
FUNCTIONAL_TESTING = FunctionalTesting(bases=(FIXTURE,), name="collective.messenger:Functional")
ACCEPTANCE_TESTING = FunctionalTesting(
    bases=(FIXTURE, WSGI_SERVER_FIXTURE), name="collective.messenger:Acceptance"
)
