"""For tests and benchmarks: a real ``redis-server`` (free loopback port, temporary
directory, stopped after), free ports, and the processes below a process.

Used by the worker's own tests, the Plone test layers and the benchmarks; it imports
nothing of Zope.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from urllib.parse import quote

import redis


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """One ``redis-server`` for tests.

    ``password`` protects the default user (the tests' own client logs in with it);
    ``acl`` adds ACL users, one ``user ...`` line each, as in an ACL file; ``tls`` makes it
    listen with TLS on ``tls_port`` too, with a throwaway CA (``ca_file``) made by openssl.
    """

    def __init__(self, appendonly=False, password=None, acl=(), tls=False):
        self.appendonly = appendonly
        self.password = password
        self.acl = tuple(acl)
        self.tls = tls
        self.process = None
        self.directory = None
        self.port = None
        self.tls_port = None

    def url_for(self, user=None, password=None, tls=False):
        """The URL for ``user`` (the default user: None) on the plain or the TLS port."""
        credentials = (
            f"{quote(user or '', safe='')}:{quote(password, safe='')}@"
            if password
            else ""
        )
        scheme, port = ("rediss", self.tls_port) if tls else ("redis", self.port)
        return f"{scheme}://{credentials}127.0.0.1:{port}/0"

    @property
    def url(self):
        return self.url_for(password=self.password)

    @property
    def ca_file(self):
        return os.path.join(self.directory, "ca.crt") if self.tls else None

    def client(self):
        return redis.Redis.from_url(self.url)

    def _access_options(self):
        if not self.acl:
            return ["--requirepass", self.password] if self.password else []
        default = (
            f"user default on >{self.password} ~* &* +@all"
            if self.password
            else ("user default on nopass ~* &* +@all")
        )
        path = os.path.join(self.directory, "users.acl")
        with open(path, "w", encoding="utf-8") as file:
            file.write("\n".join([default, *self.acl]) + "\n")
        return ["--aclfile", path]

    def _tls_options(self):
        if not self.tls:
            return []
        make_certificates(self.directory)
        self.tls_port = self.tls_port or free_port()
        return [
            "--tls-port",
            str(self.tls_port),
            "--tls-cert-file",
            os.path.join(self.directory, "server.crt"),
            "--tls-key-file",
            os.path.join(self.directory, "server.key"),
            "--tls-ca-cert-file",
            self.ca_file,
            "--tls-auth-clients",
            "no",
        ]

    def start(self, port=None):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed; install it with 'apt-get install redis-server' "
                "(the Makefile's install target does this)."
            )
        self.directory = self.directory or tempfile.mkdtemp(prefix="messenger-redis-")
        self.port = port or free_port()
        self.process = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                self.directory,
                "--save",
                "",
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--daemonize",
                "no",
                "--logfile",
                os.path.join(self.directory, "redis.log"),
                *self._access_options(),
                *self._tls_options(),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_ready()
        return self

    def _wait_until_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        client = self.client()
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"redis-server did not start on port {self.port}; see "
                        f"{self.directory}/redis.log"
                    )
                time.sleep(0.02)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self):
        """Stop and start again on the same port and directory (data survives with AOF)."""
        self.stop()
        self.start(port=self.port)

    def remove(self):
        self.stop()
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


def make_certificates(directory):
    """A throwaway CA (ca.crt) and a certificate for 127.0.0.1 and localhost signed by it
    (server.crt, server.key) in ``directory``, made with the openssl command."""
    if os.path.exists(os.path.join(directory, "server.crt")):
        return
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError(
            "openssl is not installed; install it with 'apt-get install openssl'."
        )

    def run(*args):
        subprocess.run([openssl, *args], cwd=directory, check=True, capture_output=True)

    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run(
        "req",
        "-x509",
        *key,
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=messenger test CA",
    )
    run(
        "req",
        *key,
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    )
    with open(os.path.join(directory, "san.ext"), "w", encoding="ascii") as ext:
        ext.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    )


def descendants(pid):
    """Pids of all processes below ``pid``, read from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
