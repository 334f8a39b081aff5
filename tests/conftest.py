import contextlib
import os

# Compile the German catalog at start-up, as a Plone instance does with this variable set.
os.environ.setdefault("zope_i18n_compile_mo_files", "true")

import pytest
from hypothesis import settings as hypothesis_settings
from pytest_plone import fixtures_factory

from collective.messenger.testing import ACCEPTANCE_TESTING
from collective.messenger.testing import FUNCTIONAL_TESTING
from collective.messenger.testing import INTEGRATION_TESTING
from messenger_worker.testing import descendants
from messenger_worker.testing import RedisServer

pytest_plugins = ["pytest_plone"]

# Hypothesis: the same examples on every run by default (CI stays red or green for a reason,
# not for a new draw); `make fuzz` draws new ones (HYPOTHESIS_PROFILE=fuzz, see tests/fuzz_support.py).
hypothesis_settings.register_profile(
    "ci", derandomize=True, database=None, print_blob=True
)
hypothesis_settings.register_profile("fuzz", derandomize=False, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

globals().update(
    fixtures_factory((
        (ACCEPTANCE_TESTING, "acceptance"),
        (FUNCTIONAL_TESTING, "functional"),
        (INTEGRATION_TESTING, "integration"),
    ))
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


def browser_for(site, user=None):
    """A test browser on the site's app; ``user`` logs in with basic auth. Errors are pages."""
    from plone.testing.zope import Browser

    browser = Browser(site.aq_parent)
    browser.handleErrors = False
    browser.raiseHttpErrors = False
    if user:
        browser.addHeader("Authorization", f"Basic {user}:{PASSWORD}")
    return browser


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
    context = chromium.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-US"
    )
    page = context.new_page()
    page.set_default_timeout(20000)
    yield page
    context.close()


@pytest.fixture
def live_site(acceptance, plone_redis):
    """The acceptance site, served over HTTP, with one user per role; returns its URL."""
    add_users(acceptance["portal"])
    return f"http://{acceptance['host']}:{acceptance['port']}/plone"


def _process_state(pid):
    """The state letter of ``pid`` from /proc (R, S, T, Z...), None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


class WorkerProcess:
    """``messenger-worker run`` as an operator starts it, in its own process group."""

    def __init__(self, redis_url, *options, env=None):
        import subprocess
        import sys
        import tempfile

        # A file, not a pipe: nobody reads a pipe while the test runs, and a worker that
        # filled it would block on its next log line.
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "messenger_worker.cli",
                "--redis-url",
                redis_url,
                "run",
                *options,
            ],
            env=dict(os.environ, **(env or {})),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    @property
    def output(self):
        self.log.seek(0)
        return self.log.read()

    def signal_group(self, signum):
        """Signal the worker and every descendant: RQ puts its work horse in a session of
        its own, so the process group alone would miss it.

        The worker is frozen first: a worker that forks its next work horse between the
        listing and the kill would leave that horse sending into the next test.
        """
        import signal
        import time

        parent = self.process.pid
        try:
            os.kill(parent, signal.SIGSTOP)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 2
        while _process_state(parent) not in ("T", "t", "Z", "X", None):
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        for pid in [*descendants(parent), parent]:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        if signum != signal.SIGKILL:
            try:
                os.kill(parent, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def stop(self, signum=None, timeout=60):
        """Send ``signum`` (SIGTERM) to the worker alone and wait; returns its exit code."""
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signum or signal.SIGTERM)
        self.process.wait(timeout=timeout)
        return self.process.returncode

    def kill(self):
        """SIGKILL to the worker and its work horse: a machine that dies."""
        import signal

        self.signal_group(signal.SIGKILL)
        self.process.wait(timeout=30)


def _workers_on(redis_url):
    """Start workers on ``redis_url`` while the test runs; kill them all afterwards."""
    import signal

    import redis

    workers = []

    def start(*options, env=None):
        workers.append(WorkerProcess(redis_url, *options, env=env))
        return workers[-1]

    yield start
    for worker in workers:
        worker.signal_group(signal.SIGKILL)
        if worker.process.poll() is None:
            worker.process.wait(timeout=30)
    if workers:
        _wait_for_dead_workers_to_unblock(redis.Redis.from_url(redis_url))


@pytest.fixture
def start_worker(redis_server):
    """Starts ``messenger-worker run`` on the tests' own Redis."""
    yield from _workers_on(redis_server.url)


def _wait_for_dead_workers_to_unblock(client):
    """Wait until Redis has dropped the blocking dequeue of the workers just killed.

    For a few milliseconds Redis may still list such a connection as blocked on the queues;
    a job pushed then is handed to the dead connection and sits in RQ's intermediate queue
    until RQ's maintenance moves it back, far longer than a test waits.
    """
    import time

    deadline = time.monotonic() + 5
    while True:
        blocked = [
            c
            for c in client.client_list()
            if c.get("cmd") in ("blpop", "blmove", "brpoplpush")
        ]
        if not blocked:
            break
        if time.monotonic() > deadline:
            for connection in blocked:
                client.client_kill_filter(_id=connection["id"])
            break
        time.sleep(0.005)
    client.close()


def wait_until(predicate, timeout=30.0, interval=0.05, message="condition"):
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


@pytest.fixture
def plone_worker():
    """Starts ``messenger-worker run`` on the Redis of the Plone layers (where Plone queues)."""
    from messenger_worker.connection import REDIS_URL_VARIABLE

    yield from _workers_on(os.environ[REDIS_URL_VARIABLE])


@contextlib.contextmanager
def conflict_on_first_attempt(path_matches):
    """Requests whose PATH_INFO satisfies ``path_matches`` end their first attempt in a
    ConflictError just before commit, as a concurrent write would; Zope then retries them.
    Yields the list of the attempts' retry counts."""
    from ZODB.POSException import ConflictError
    from zope.component import getGlobalSiteManager
    from ZPublisher.interfaces import IPubBeforeCommit

    attempts = []

    def conflict(event):
        if path_matches(event.request.get("PATH_INFO", "")):
            attempts.append(event.request.retry_count)
            if len(attempts) == 1:
                raise ConflictError("forced by the test")

    # The acceptance layer serves from a thread of this process: a global handler sees its requests.
    manager = getGlobalSiteManager()
    manager.registerHandler(conflict, (IPubBeforeCommit,))
    try:
        yield attempts
    finally:
        manager.unregisterHandler(conflict, (IPubBeforeCommit,))
