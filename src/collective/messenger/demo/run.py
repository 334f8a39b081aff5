"""``messenger-demo``: Redis, Zope with the "Musterstadt" site, a delivery worker and the
messenger sandbox, whose simulated phones stand in for the citizens' messengers.

``start_stack()`` starts everything and returns a ``Stack`` to ``stop()``; ``main()`` adds the
console around it (arguments, banner, Ctrl-C). Importing this module starts nothing.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import redis

from collective.messenger.demo import create_site
from collective.messenger.demo import zope_conf as zope_conf_file
from collective.messenger.demo import zope_ini as zope_ini_file
from messenger_worker.connection import connect
from messenger_worker.connection import display_url

DEFAULT_HTTP_PORT = 8080
DEFAULT_REDIS_PORT = 6379
DEFAULT_SANDBOX_PORT = 8099
SANDBOX_URL_VARIABLE = "MESSENGER_DEMO_SANDBOX_URL"
REDIS_URL_VARIABLE = "MESSENGER_REDIS_URL"
ADMIN = ("admin", "admin")
READY_TIMEOUT = 120
STOP_TIMEOUT = 15


class DemoError(Exception):
    """Something the operator can fix; the message says what."""


def _bin(name):
    # The scripts of this virtual environment, whether or not it is activated.
    return os.path.join(os.path.dirname(sys.executable), name)


def check_port_free(port, option, hint=""):
    with socket.socket() as sock:
        # As the servers do, so a port in TIME_WAIT from a previous run counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise DemoError(
                f"Port {port} is already in use. Stop what uses it, or choose another "
                f"port with {option} PORT{hint}."
            ) from None


def _describe_exit(code):
    return f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"


def _tail(path, lines=20):
    try:
        with open(path, encoding="utf-8", errors="replace") as log:
            return "".join(log.readlines()[-lines:])
    except OSError:
        return ""


class Stack:
    """The running demo: child processes by name, their logs and URLs."""

    def __init__(
        self, var_dir, http_port, redis_url, sandbox_port=DEFAULT_SANDBOX_PORT
    ):
        self.var_dir = var_dir
        self.http_port = http_port
        self.redis_url = redis_url
        self.sandbox_port = sandbox_port
        self.log_dir = os.path.join(var_dir, "log")
        self.processes = {}  # name -> Popen, in start order
        self.env = dict(os.environ)
        self.env[REDIS_URL_VARIABLE] = redis_url
        # Zope compiles the .po catalogs (German) to .mo at start-up.
        self.env["zope_i18n_compile_mo_files"] = "true"
        # Musterstadt's local time also for what Zope dates by the process's zone (created,
        # modified); the site's own zone is plone.portal_timezone (create_site).
        self.env.setdefault("TZ", create_site.TIMEZONE)
        # The site setup script points the channels at the sandbox.
        self.env[SANDBOX_URL_VARIABLE] = self.sandbox_url

    @property
    def site_url(self):
        return f"http://localhost:{self.http_port}/{create_site.SITE_ID}"

    @property
    def sandbox_url(self):
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def phones_url(self):
        return f"{self.sandbox_url}/_sandbox/"

    @property
    def webhook_base(self):
        # Zope listens on 127.0.0.1; the sandbox posts the citizens' messages there.
        return f"http://127.0.0.1:{self.http_port}/{create_site.SITE_ID}/@messenger-webhook"

    @property
    def controlpanel_url(self):
        return f"{self.site_url}/@@messenger-controlpanel"

    def log_path(self, name):
        return os.path.join(self.log_dir, f"{name}.log")

    def start(self, name, command):
        # Own session: a Ctrl-C in the terminal reaches only us, and we stop children in order.
        with open(self.log_path(name), "ab") as log:
            self.processes[name] = subprocess.Popen(
                command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def run_once(self, name, command):
        """Run a set-up step to its end; its output goes to the log, shown on failure."""
        with open(self.log_path(name), "ab") as log:
            result = subprocess.run(
                command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if result.returncode != 0:
            raise DemoError(
                f"{name} failed with exit code {result.returncode}; the end of "
                f"{self.log_path(name)}:\n{_tail(self.log_path(name))}"
            )

    def dead_child(self):
        """(name, exit code) of the first child that has exited, or None."""
        for name, process in self.processes.items():
            code = _exit_code(process)
            if code is not None:
                return name, code
        return None

    def stop(self, timeout=STOP_TIMEOUT):
        # Reverse start order: the worker and Zope still use Redis while they shut down.
        for process in reversed(list(self.processes.values())):
            if process.returncode is not None:
                continue  # reaped by an earlier stop()
            if _exit_code(process) is None:
                process.terminate()
                deadline = time.monotonic() + timeout
                while _exit_code(process) is None and time.monotonic() < deadline:
                    time.sleep(0.05)
            # Kill what is left of the group (the worker forks a scheduler), then reap the
            # leader: unreaped, its pid is still this group's id and no one else's.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


def _exit_code(process):
    """Exit code (negative: signal) or None while running, without reaping (see stop)."""
    if process.returncode is not None:
        return process.returncode
    info = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def _start_redis(stack, port):
    binary = shutil.which("redis-server")
    if binary is None:
        raise DemoError(
            "redis-server is not installed: run 'make run' (it installs it), or "
            f"set {REDIS_URL_VARIABLE} to a Redis you have."
        )
    data_dir = os.path.join(stack.var_dir, "redis")
    os.makedirs(data_dir, exist_ok=True)
    stack.start(
        "redis",
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            data_dir,
            "--appendonly",
            "yes",
            "--daemonize",
            "no",
        ],
    )


def _wait_for_redis(stack, timeout=30):
    client = connect(stack.redis_url, timeout=1)
    deadline = time.monotonic() + timeout
    while True:
        _raise_if_dead(stack)
        try:
            # Also waits while Redis is still loading its append-only file.
            client.ping()
            return
        except redis.RedisError as error:
            if time.monotonic() > deadline:
                raise DemoError(
                    f"Redis at {display_url(stack.redis_url)} does not answer: {error}"
                ) from None
        time.sleep(0.1)


def _start_sandbox(stack):
    """The sandbox, posting simulated citizens' messages to the site's webhooks."""
    from collective.messenger.demo.sandbox import SANDBOX_SIGNAL_WEBHOOK_SECRET

    config = {
        "telegram": {"webhook_url": f"{stack.webhook_base}/telegram"},
        # The sandbox has two approved templates (its defaults, which the site's settings name
        # too): posts with a lead image show it in the image header, the others go out as
        # the template without header.
        "whatsapp": {"webhook_url": f"{stack.webhook_base}/whatsapp"},
        "signal": {
            "webhook_url": f"{stack.webhook_base}/signal/{SANDBOX_SIGNAL_WEBHOOK_SECRET}"
        },
    }
    path = os.path.join(stack.var_dir, "sandbox.json")
    with open(path, "w", encoding="utf-8") as file:
        json.dump(config, file, indent=2)
    stack.start(
        "sandbox",
        [
            sys.executable,
            "-m",
            "messenger_sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(stack.sandbox_port),
            "--config",
            path,
            "--log-level",
            "WARNING",
        ],
    )


def _prepare_instance(stack):
    """A Zope instance with the admin user, made once, and the site in it."""
    instance = os.path.join(stack.var_dir, "instance")
    zope_conf = os.path.join(instance, "etc", "zope.conf")
    zope_ini = os.path.join(instance, "etc", "zope.ini")
    if not (os.path.exists(zope_conf) and os.path.exists(zope_ini)):
        stack.run_once(
            "mkwsgiinstance",
            [_bin("mkwsgiinstance"), "-d", instance, "-u", ":".join(ADMIN)],
        )
    # Blob storage and debug mode off, also for an instance made by an earlier demo.
    zope_conf_file.prepare(zope_conf)
    # The script checks whether the site exists: cheap on later runs, and heals a deleted site.
    stack.run_once(
        "create-site", [_bin("zconsole"), "run", zope_conf, create_site.__file__]
    )
    _set_http_port(zope_ini, stack.http_port)
    # waitress's body limit and the add-on's WSGI filter, as for production (README).
    zope_ini_file.prepare(zope_ini)
    return zope_ini


def _set_http_port(zope_ini, port):
    # mkwsgiinstance writes "port = 8080" into [server:main]; waitress reads it from there.
    with open(zope_ini, encoding="utf-8") as ini:
        text = ini.read()
    text, count = re.subn(r"(?m)^port\s*=.*$", f"port = {port}", text)
    if count != 1:
        raise DemoError(f"Found no single 'port = ...' line to set in {zope_ini}.")
    with open(zope_ini, "w", encoding="utf-8") as ini:
        ini.write(text)


def _raise_if_dead(stack):
    dead = stack.dead_child()
    if dead is not None:
        name, code = dead
        raise DemoError(
            f"{name} {_describe_exit(code)} while starting; the end of "
            f"{stack.log_path(name)}:\n{_tail(stack.log_path(name))}"
        )


def _wait_for_site(stack, timeout=READY_TIMEOUT):
    # Zope listens on 127.0.0.1 only; asking there skips trying ::1 for "localhost".
    url = f"http://127.0.0.1:{stack.http_port}/{create_site.SITE_ID}"
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        _raise_if_dead(stack)
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            last = f"HTTP {error.code}"
        except (OSError, urllib.error.URLError) as error:
            last = str(error)
        time.sleep(0.5)
    raise DemoError(
        f"{stack.site_url} did not answer within {timeout} s (last: {last}); "
        f"see {stack.log_path('zope')}"
    )


def start_stack(
    var_dir="var",
    http_port=DEFAULT_HTTP_PORT,
    redis_port=DEFAULT_REDIS_PORT,
    redis_url=None,
    ready_timeout=READY_TIMEOUT,
    sandbox_port=DEFAULT_SANDBOX_PORT,
):
    """Start Redis (unless ``redis_url`` is given), the sandbox, Zope and a worker; wait for the site.

    Returns the running ``Stack``; on any failure whatever was started is stopped again.
    """
    check_port_free(http_port, "--http-port")
    check_port_free(sandbox_port, "--sandbox-port")
    if redis_url is None:
        # Often a system redis-server (Debian starts one on 6379): it can be used instead.
        check_port_free(
            redis_port,
            "--redis-port",
            f", or use that Redis: {REDIS_URL_VARIABLE}=redis://127.0.0.1:{redis_port}/0",
        )
    var_dir = os.path.abspath(var_dir)
    stack = Stack(
        var_dir,
        http_port,
        redis_url or f"redis://127.0.0.1:{redis_port}/0",
        sandbox_port,
    )
    os.makedirs(stack.log_dir, exist_ok=True)
    try:
        if redis_url is None:
            _start_redis(stack, redis_port)
        # Before the site: installing the add-on publishes its settings to Redis.
        _wait_for_redis(stack)
        _start_sandbox(stack)
        zope_ini = _prepare_instance(stack)
        stack.start("worker", [_bin("messenger-worker"), "run"])
        stack.start("zope", [_bin("runwsgi"), zope_ini])
        _wait_for_site(stack, ready_timeout)
    except BaseException:
        stack.stop()
        raise
    return stack


class _Stop(BaseException):
    """SIGINT (Ctrl-C) or SIGTERM; a BaseException, like KeyboardInterrupt, so no
    "except Exception" on the way swallows it."""


def _raise_stop(signum, frame):
    # Only once: a second Ctrl-C must not cut the shutdown short and leave children running.
    _ignore_signals()
    raise _Stop()


def _ignore_signals():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _banner(stack):
    return "\n".join([
        "",
        "Messenger demo is ready.",
        f"  Site:           {stack.site_url}",
        f"  Control panel:  {stack.controlpanel_url}",
        f"  Login:          {ADMIN[0]} / {ADMIN[1]}",
        f"  Signup page:    {stack.site_url}/@@messenger-signup",
        f"  Sandbox phones: {stack.phones_url}",
        f"  Redis:          {display_url(stack.redis_url)}",
        f"  Logs:           {stack.log_dir}/",
        "Press Ctrl-C to stop.",
        "",
    ])


def build_parser():
    parser = argparse.ArgumentParser(
        prog="messenger-demo",
        description="Run the collective.messenger demo: Redis, Zope with the "
        "'Musterstadt' site, and a delivery worker.",
    )
    parser.add_argument(
        "--var",
        default="var",
        help="directory for the Zope instance, Redis data and logs (default: var)",
    )
    parser.add_argument(
        "--http-port",
        type=int,
        default=DEFAULT_HTTP_PORT,
        help=f"Zope's HTTP port (default {DEFAULT_HTTP_PORT})",
    )
    parser.add_argument(
        "--redis-port",
        type=int,
        default=DEFAULT_REDIS_PORT,
        help=f"port of the demo's own redis-server (default {DEFAULT_REDIS_PORT}; "
        f"not used when {REDIS_URL_VARIABLE} is set)",
    )
    parser.add_argument(
        "--sandbox-port",
        type=int,
        default=DEFAULT_SANDBOX_PORT,
        help=f"port of the messenger sandbox and its phone pages (default {DEFAULT_SANDBOX_PORT})",
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    # SIGINT too: a shell starts background jobs with it ignored, and then Python would not
    # turn it into KeyboardInterrupt.
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    stack = None
    try:
        print(
            "Starting the Messenger demo (the first run also creates the site) ...",
            flush=True,
        )
        stack = start_stack(
            args.var,
            args.http_port,
            args.redis_port,
            redis_url=os.environ.get(REDIS_URL_VARIABLE),
            sandbox_port=args.sandbox_port,
        )
        print(_banner(stack), flush=True)
        while True:
            dead = stack.dead_child()
            if dead is not None:
                name, code = dead
                print(
                    f"\n{name} {_describe_exit(code)} unexpectedly; stopping the demo. "
                    f"See {stack.log_path(name)}.",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
            time.sleep(0.5)
    except _Stop:
        # start_stack() has stopped what it started if the signal came during start-up.
        print("\nStopping ...", flush=True)
        return 0
    except DemoError as error:
        print(f"messenger-demo: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        _ignore_signals()
        if stack is not None:
            stack.stop()
            print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
