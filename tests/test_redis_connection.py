"""Redis URLs with ACL users, passwords and TLS, for Zope and the workers (no Plone here)."""

import os
import subprocess
import sys

import pytest
import redis

from messenger_worker.connection import CA_FILE_VARIABLE
from messenger_worker.connection import connect
from messenger_worker.connection import display_url
from messenger_worker.connection import tls_options
from messenger_worker.testing import RedisServer

PASSWORD = "p@ss:word/with%special"


@pytest.fixture(scope="module")
def protected():
    """A redis-server with a password on the default user and a TLS port."""
    server = RedisServer(password=PASSWORD, tls=True).start()
    yield server
    server.remove()


def test_plain_urls_get_no_tls_options():
    assert (
        tls_options("redis://127.0.0.1:6379/0", environ={CA_FILE_VARIABLE: "/ca.crt"})
        == {}
    )


def test_tls_options_from_the_environment():
    environ = {
        CA_FILE_VARIABLE: "/etc/ssl/ca.crt",
        "MESSENGER_REDIS_CERT_FILE": "/c.crt",
        "MESSENGER_REDIS_KEY_FILE": "/c.key",
    }
    assert tls_options("rediss://worker:pw@redis.example:6379/0", environ) == {
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_ca_certs": "/etc/ssl/ca.crt",
        "ssl_certfile": "/c.crt",
        "ssl_keyfile": "/c.key",
    }
    # Without a CA file the system's CAs are used; the certificate is still checked.
    assert tls_options("rediss://redis.example/0", {})["ssl_cert_reqs"] == "required"


def test_display_url_hides_the_password_only():
    assert display_url("rediss://worker:s3cret@redis.example:6380/0") == (
        "rediss://worker:***@redis.example:6380/0"
    )
    assert (
        display_url("redis://:s3cret@127.0.0.1:6379/1")
        == "redis://:***@127.0.0.1:6379/1"
    )
    assert display_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_password_with_special_characters_percent_encoded(protected):
    assert "%40" in protected.url  # the @ of the password
    assert connect(protected.url).ping()
    with pytest.raises(redis.AuthenticationError):
        connect(protected.url_for(password="wrong")).ping()


def test_tls_needs_the_right_ca(protected, tmp_path):
    url = protected.url_for(password=PASSWORD, tls=True)
    assert connect(url, environ={CA_FILE_VARIABLE: protected.ca_file}).ping()
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        connect(url, environ={}).ping()
    other = RedisServer(tls=True)
    other.directory = str(tmp_path)
    from messenger_worker.testing import make_certificates

    make_certificates(
        str(tmp_path)
    )  # another CA: it did not sign the server's certificate
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        connect(
            url, environ={CA_FILE_VARIABLE: os.path.join(tmp_path, "ca.crt")}
        ).ping()


def test_tls_checks_the_host_name(protected):
    # The certificate is for 127.0.0.1 and localhost; the same server by another name fails.
    import socket

    name = socket.gethostname()
    if not socket.gethostbyname(name).startswith("127."):
        pytest.skip("the host name does not resolve to loopback here")
    url = protected.url_for(password=PASSWORD, tls=True).replace(
        "@127.0.0.1:", f"@{name}:"
    )
    with pytest.raises(redis.ConnectionError, match="match|mismatch|hostname"):
        connect(url, environ={CA_FILE_VARIABLE: protected.ca_file}).ping()


def test_worker_status_with_a_wrong_password_says_so_without_it(protected):
    url = protected.url_for(password="not-the-" + "password")
    result = subprocess.run(
        [sys.executable, "-m", "messenger_worker.cli", "--redis-url", url, "status"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "invalid username-password pair" in result.stdout
    assert "not-the-password" not in result.stdout + result.stderr
    assert ":***@127.0.0.1" in result.stdout
