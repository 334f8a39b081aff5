import os

# Compile the German catalog at start-up, as a Plone instance does with this variable set.
os.environ.setdefault("zope_i18n_compile_mo_files", "true")

import pytest  # noqa: E402
from pytest_plone import fixtures_factory  # noqa: E402

from collective.messenger.testing import ACCEPTANCE_TESTING  # noqa: E402
from collective.messenger.testing import FUNCTIONAL_TESTING  # noqa: E402
from collective.messenger.testing import INTEGRATION_TESTING  # noqa: E402
from messenger_worker.testing import RedisServer  # noqa: E402

pytest_plugins = ["pytest_plone"]

globals().update(
    fixtures_factory(
        (
            (ACCEPTANCE_TESTING, "acceptance"),
            (FUNCTIONAL_TESTING, "functional"),
            (INTEGRATION_TESTING, "integration"),
        )
    )
)


@pytest.fixture(scope="session")
def redis_server():
    """A redis-server of its own for tests that run without Plone."""
    server = RedisServer().start()
    yield server
    server.remove()


@pytest.fixture
def redis_client(redis_server):
    client = redis_server.client()
    client.flushall()
    return client


@pytest.fixture
def plone_redis():
    """The Redis the Plone layers started (MESSENGER_REDIS_URL), emptied for this test."""
    from collective.messenger.redis_client import get_redis

    client = get_redis()
    client.flushall()
    return client


PASSWORD = "secret-Passw0rd"
ROLES_BY_USER = {
    "manager": ["Manager"],
    "siteadmin": ["Site Administrator"],
    "editor": ["Editor"],
    "reviewer": ["Reviewer"],
    "member": ["Member"],
}


def add_users(portal):
    import transaction

    for name, roles in ROLES_BY_USER.items():
        portal.acl_users.userFolderAddUser(name, PASSWORD, roles, [])
    transaction.commit()


@pytest.fixture
def site(functional, plone_redis):
    """The functional test site with one user per role (name = role, lower case), committed."""
    add_users(functional["portal"])
    return functional["portal"]


SCREENSHOTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "test-results")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium driven by Playwright (Playwright cannot download browsers here)."""
    from playwright.sync_api import sync_playwright

    os.makedirs(SCREENSHOTS, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(20000)
    yield page
    context.close()


@pytest.fixture
def live_site(acceptance, plone_redis):
    """The acceptance site, served over HTTP, with one user per role; returns its URL."""
    add_users(acceptance["portal"])
    return f"http://{acceptance['host']}:{acceptance['port']}/plone"
