"""Test layers: a real Redis, and a Plone site with the add-on installed."""

import os

from plone.app.testing import applyProfile
from plone.app.testing import FunctionalTesting
from plone.app.testing import IntegrationTesting
from plone.app.testing import PLONE_FIXTURE
from plone.app.testing import PloneSandboxLayer
from plone.testing import Layer
from plone.testing.zope import WSGIServer

from messenger_worker.connection import REDIS_URL_VARIABLE
from messenger_worker.connection import WORKER_ACL_RULES
from messenger_worker.connection import ZOPE_ACL_RULES
from messenger_worker.testing import RedisServer


class RedisLayer(Layer):
    """Starts ``redis-server`` on a free loopback port and points MESSENGER_REDIS_URL at it."""

    def make_server(self):
        return RedisServer()

    def zope_url(self):
        return self.server.url

    def setUp(self):
        self.server = self.make_server().start()
        self["redis_server"] = self.server
        self._previous_url = os.environ.get(REDIS_URL_VARIABLE)
        os.environ[REDIS_URL_VARIABLE] = self.zope_url()

    def tearDown(self):
        if self._previous_url is None:
            os.environ.pop(REDIS_URL_VARIABLE, None)
        else:
            os.environ[REDIS_URL_VARIABLE] = self._previous_url
        self.server.remove()


REDIS_FIXTURE = RedisLayer(name="collective.messenger:Redis")

# Passwords of the hardened Redis below (test values).
ACL_PASSWORDS = {
    "default": "admin-Secret-0",
    "zope": "zope-Secret-1",
    "worker": "worker-Secret-2",
}


class HardenedRedisLayer(RedisLayer):
    """Redis as the README's "Operating: a hardened Redis" sets it up: ACL users ``zope``
    and ``worker`` with ``ZOPE_ACL_RULES`` and ``WORKER_ACL_RULES``, passwords, and a TLS
    port with a throwaway CA. Zope connects as ``zope``; ``redis_server.client()`` is the
    password-protected default user, for the tests' own checks and clean-ups;
    ``redis_worker_url`` is what a worker gets."""

    def make_server(self):
        return RedisServer(
            password=ACL_PASSWORDS["default"],
            acl=[
                f"user zope on >{ACL_PASSWORDS['zope']} {ZOPE_ACL_RULES}",
                f"user worker on >{ACL_PASSWORDS['worker']} {WORKER_ACL_RULES}",
            ],
            tls=True,
        )

    def zope_url(self):
        return self.server.url_for("zope", ACL_PASSWORDS["zope"])

    def setUp(self):
        # MESSENGER_REDIS_URL points here while the site is set up (installing the add-on
        # publishes the settings through the zope user); then, and between this layer's
        # tests, it points back, so that layers set up beside this one keep their Redis.
        super().setUp()
        self["redis_worker_url"] = self.server.url_for(
            "worker", ACL_PASSWORDS["worker"]
        )

    def leave(self):
        _set_url(self._previous_url)

    def testSetUp(self):
        self._outer_url = os.environ.get(REDIS_URL_VARIABLE)
        os.environ[REDIS_URL_VARIABLE] = self.zope_url()

    def testTearDown(self):
        _set_url(self._outer_url)


def _set_url(url):
    if url is None:
        os.environ.pop(REDIS_URL_VARIABLE, None)
    else:
        os.environ[REDIS_URL_VARIABLE] = url


HARDENED_REDIS_FIXTURE = HardenedRedisLayer(name="collective.messenger:HardenedRedis")


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


class HardenedMessengerLayer(MessengerLayer):
    defaultBases = (HARDENED_REDIS_FIXTURE, PLONE_FIXTURE)

    def setUp(self):
        super().setUp()
        HARDENED_REDIS_FIXTURE.leave()


HARDENED_FIXTURE = HardenedMessengerLayer(name="collective.messenger:HardenedFixture")

INTEGRATION_TESTING = IntegrationTesting(
    bases=(FIXTURE,), name="collective.messenger:Integration"
)
FUNCTIONAL_TESTING = FunctionalTesting(
    bases=(FIXTURE,), name="collective.messenger:Functional"
)
HARDENED_FUNCTIONAL_TESTING = FunctionalTesting(
    bases=(HARDENED_FIXTURE,), name="collective.messenger:HardenedFunctional"
)
ACCEPTANCE_TESTING = FunctionalTesting(
    bases=(FIXTURE, WSGI_SERVER_FIXTURE), name="collective.messenger:Acceptance"
)
