"""The demo behind ``make run``: Redis, Zope and a worker as real subprocesses.

No Plone test layers here; the stack runs on free ports in a temporary directory.
"""

import base64
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import requests

from collective.messenger.demo.run import DemoError
from collective.messenger.demo.run import start_stack
from messenger_sandbox.process import SandboxProcess
from messenger_worker.testing import free_port

ADMIN_AUTH = "Basic " + base64.b64encode(b"admin:admin").decode()


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory):
    # Shared by the tests below: the site is created once, the second start reuses it.
    return tmp_path_factory.mktemp("demo-var")


def get(url, auth=False):
    # Sent up front: Plone answers a browser-like request with a login form, not a 401.
    headers = {"Authorization": ADMIN_AUTH} if auth else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=30
        ) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, ""


def worker_status(redis_url):
    script = os.path.join(os.path.dirname(sys.executable), "messenger-worker")
    return subprocess.run(
        [script, "--redis-url", redis_url, "status"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout


def registered_workers(status_output):
    """Names in the worker table of ``messenger-worker status``."""
    lines = status_output.splitlines()
    for index, line in enumerate(lines):
        if line.split()[:1] == ["worker"]:
            return [row.split()[0] for row in lines[index + 2 :] if row.strip()]
    return []


def wait_for_worker(redis_url, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        output = worker_status(redis_url)
        if registered_workers(output):
            return output
        assert time.monotonic() < deadline, f"no worker registered:\n{output}"
        time.sleep(0.5)


def group_exists(pgid):
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def assert_all_gone(stack):
    for name, process in stack.processes.items():
        assert process.returncode is not None, f"{name} still running"
        # Nothing of its process group is left either (the worker forks a scheduler); a
        # killed orphan may take a moment until init has reaped it.
        deadline = time.monotonic() + 5
        while group_exists(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not group_exists(process.pid), f"{name} left processes behind"


@pytest.mark.timeout(600)
def test_demo_serves_site_and_controlpanel_with_a_worker(var_dir):
    stack = start_stack(
        var_dir, http_port=free_port(), redis_port=free_port(), sandbox_port=free_port()
    )
    try:
        assert set(stack.processes) == {"redis", "sandbox", "zope", "worker"}
        assert get(stack.site_url)[0] == 200

        status, body = get(stack.controlpanel_url, auth=True)
        assert status == 200
        assert "Messenger" in body
        assert 'lang="de"' in body

        assert stack.processes["worker"].poll() is None
        output = wait_for_worker(stack.redis_url)
        assert "Settings: version" in output  # published when the add-on was installed

        # A real Plone: blob storage (an image can be added), Europe/Berlin, German dates.
        assert add_news_with_image(stack).status_code == 201
        assert registry(stack, "plone.portal_timezone") == "Europe/Berlin"
        event = requests.get(f"{stack.site_url}/stadtfest-musterstadt", timeout=30)
        assert (
            event.status_code == 200
        )  # its dates are aware: Plone's event view can show them
        assert re.search(
            r"\b\d\d\.\d\d\.20\d\d\b", event.text
        )  # 16.12.2026, not Dec 16, 2026
        # Also in the "upcoming events" portlet, which Plone formats without the request's language.
        portlet = requests.get(stack.site_url, timeout=30).text.split(
            'class="portletItemDetails"'
        )[1][:400]
        assert re.search(r"\b\d\d\.\d\d\.20\d\d\b", portlet) and not re.search(
            r"\d (AM|PM)\b", portlet
        )
        assert_no_traceback_for_visitors(stack)
    finally:
        stack.stop()
    assert_all_gone(stack)


PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cf"
        "c0f01f0005000201e221bc330000000049454e44ae426082"
    )
).decode()


def add_news_with_image(stack, title="Bild-Test"):
    """A News Item with a lead image through plone.restapi: needs the instance's blob storage."""
    return requests.post(
        stack.site_url,
        timeout=60,
        headers={"Authorization": ADMIN_AUTH, "Accept": "application/json"},
        json={
            "@type": "News Item",
            "title": title,
            "image": {
                "data": PNG,
                "encoding": "base64",
                "filename": "bild.png",
                "content-type": "image/png",
            },
        },
    )


def registry(stack, name):
    answer = requests.get(
        f"{stack.site_url}/@registry/{name}",
        timeout=30,
        headers={"Authorization": ADMIN_AUTH, "Accept": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def assert_no_traceback_for_visitors(stack):
    """Requests a visitor can make fail show an error page, never Python's traceback (the
    add-on's WSGI filter answers some of them; Plone's error page the rest)."""
    with open(
        os.path.join(stack.var_dir, "instance", "etc", "zope.conf"), encoding="utf-8"
    ) as conf:
        text = conf.read()
    assert re.search(r"(?m)^debug-mode off$", text) and re.search(
        r"(?m)^debug-exceptions off$", text
    )
    leaks = (
        "Traceback",
        'File "',
        "Module ZPublisher",
        "ValueError",
        "An integer was expected",
    )
    for path in (
        "?b_start:int=abc",
        "@@search?b_start:int=x",
        "@@messenger-confirm?action=again",
        "stadtfest-musterstadt/@@images/image/nothing",
    ):
        answer = requests.get(
            f"{stack.site_url}/{path}", headers={"Accept": "text/html"}, timeout=30
        )
        assert answer.status_code >= 400 or "login" in answer.url, path
        for leak in leaks:
            assert leak not in answer.text, (path, leak)
    # A form Zope cannot read fails before Zope knows who is asking: the error page must not
    # judge the visitor by the user of the previous request on that waitress thread (a
    # Manager's here). Several rounds, so the visitor meets the Manager's threads.
    for _round in range(8):
        assert (
            requests.get(
                f"{stack.site_url}/@@overview-controlpanel",
                timeout=30,
                headers={"Authorization": ADMIN_AUTH},
            ).status_code
            == 200
        )
        answer = requests.post(
            stack.site_url,
            data={"b_start:int": "abc"},
            timeout=30,
            headers={"Accept": "text/html"},
        )
        assert answer.status_code >= 400
        for leak in leaks:
            assert leak not in answer.text, leak
    with open(
        os.path.join(stack.log_dir, "zope.log"), encoding="utf-8", errors="replace"
    ) as log:
        assert (
            "An integer was expected in the value 'abc'" in log.read()
        )  # the operator has it


def test_zope_conf_of_an_older_demo_gets_blob_storage(tmp_path):
    """mkwsgiinstance writes no blob-dir; the demo adds it (and debug mode off) on every start."""
    from collective.messenger.demo import zope_conf

    script = os.path.join(os.path.dirname(sys.executable), "mkwsgiinstance")
    subprocess.run(
        [script, "-d", str(tmp_path / "instance"), "-u", "admin:admin"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    path = tmp_path / "instance" / "etc" / "zope.conf"
    assert "blob-dir" not in "".join(
        line for line in path.read_text().splitlines() if not line.startswith("#")
    )
    assert zope_conf.prepare(path) is True
    text = path.read_text()
    assert re.search(
        r"(?ms)<filestorage>\s*path \$INSTANCE/var/Data\.fs\s*"
        r"blob-dir \$INSTANCE/var/blobstorage\s*</filestorage>",
        text,
    )
    assert zope_conf.prepare(path) is False  # once is enough
    path.write_text(text.replace("\ndebug-mode off\n", "\ndebug-mode on\n"))
    assert zope_conf.prepare(path) is True
    assert not re.search(r"(?m)^debug-mode on", path.read_text())


def wait_for_messages(sandbox, address, count, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        messages = sandbox.messages(channel="telegram", recipient=address)
        if len(messages) >= count:
            return messages
        assert time.monotonic() < deadline, (
            f"{len(messages)} of {count} messages arrived: {messages}"
        )
        time.sleep(0.2)


def subscriber_count(stack, state):
    """From the admin view's CSV: all topics, Telegram, ``state``."""
    response = requests.get(
        f"{stack.site_url}/@@messenger-subscribers/counts.csv",
        headers={"Authorization": ADMIN_AUTH},
        timeout=30,
    )
    assert response.status_code == 200
    rows = [
        line.split(",")
        for line in response.content.decode("utf-8-sig").splitlines()[1:]
    ]
    channel_rows = [row for row in rows if not row[1]]
    telegram = [row for row in channel_rows if row[2] == "Telegram"]
    return {row[3]: int(row[4]) for row in telegram}[state]


@pytest.mark.timeout(600)
def test_demo_newcomer_subscribes_with_telegram_and_leaves(var_dir):
    """The issue's walk-through: portlet, Start on the sandbox phone, welcome, /stop, counted."""
    stack = start_stack(
        var_dir, http_port=free_port(), redis_port=free_port(), sandbox_port=free_port()
    )
    try:
        active_before = subscriber_count(
            stack, "Aktiv"
        )  # the demo's sample subscribers
        front_page = requests.get(stack.site_url, timeout=30).text
        assert "Nachrichten aufs Handy" in front_page  # the signup portlet
        assert 'value="telegram"' in front_page

        answer = requests.post(
            f"{stack.site_url}/@@messenger-signup",
            timeout=30,
            data={
                "step": "signup",
                "path": "portlet",
                "topics": ["baustellen-verkehr", "warnungen"],
                "channel": "telegram",
                "consent": "on",
                "website": "",
                "request_key": "demo-1",
                # The portlet's own form token (the page refuses POSTs without it).
                "form_token": re.search(
                    r'name="form_token"[^>]*value="([^"]+)"', front_page
                ).group(1),
            },
        )
        assert answer.status_code == 200, answer.text[:2000]
        link = re.search(
            r'href="(https://t\.me/musterstadt_bot\?start=[A-Za-z0-9_-]+)"', answer.text
        ).group(1)

        sandbox = SandboxProcess(port=stack.sandbox_port)
        address = "4242"
        tapped = requests.post(
            f"{stack.phones_url}phone/telegram/{address}/start",
            data={"link": link},
            timeout=30,
            allow_redirects=False,
        )
        assert tapped.status_code in (302, 303)
        [welcome] = wait_for_messages(sandbox, address, 1)
        assert "/stop" in welcome["text"] and "@@messenger-manage/" in welcome["text"]
        assert subscriber_count(stack, "Aktiv") == active_before + 1

        result = sandbox.citizen("telegram", address, text="/stop")
        assert result["webhook"]["status"] == 200
        goodbye = wait_for_messages(sandbox, address, 2)[-1]
        assert "@@messenger-signup" in goodbye["text"]
        assert subscriber_count(stack, "Aktiv") == active_before
        assert subscriber_count(stack, "Abgemeldet") == 1
    finally:
        stack.stop()
    assert_all_gone(stack)


@pytest.mark.timeout(600)
def test_demo_second_start_reuses_site_and_notices_a_dead_child(var_dir):
    # A data directory of an earlier demo: its zope.conf had no blob-dir.
    conf = os.path.join(var_dir, "instance", "etc", "zope.conf")
    with open(conf, encoding="utf-8") as file:
        text = file.read()
    with open(conf, "w", encoding="utf-8") as file:
        file.write(re.sub(r"(?m)^\s*blob-dir .*\n", "", text))
    # Other ports than before: the port in zope.ini is rewritten on every start.
    stack = start_stack(
        var_dir, http_port=free_port(), redis_port=free_port(), sandbox_port=free_port()
    )
    try:
        assert get(stack.site_url)[0] == 200
        with open(stack.log_path("create-site")) as log:
            assert log.read().rstrip().endswith("Site Musterstadt exists.")
        assert add_news_with_image(stack, "Bild nach dem Neustart").status_code == 201
        image = requests.get(
            f"{stack.site_url}/bild-test/@@images/image",
            timeout=30,
            headers={"Authorization": ADMIN_AUTH},
        )  # private, as it was made
        assert (
            image.status_code == 200 and image.headers["Content-Type"] == "image/png"
        )  # still there

        stack.processes["worker"].kill()
        deadline = time.monotonic() + 10
        while stack.dead_child() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert stack.dead_child() == ("worker", -9)
    finally:
        stack.stop()
    assert_all_gone(stack)


def test_demo_fails_early_on_a_busy_port(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(
            DemoError, match=rf"Port {port} is already in use.*--http-port"
        ):
            start_stack(tmp_path, http_port=port, redis_port=free_port())
    assert os.listdir(tmp_path) == []  # nothing was started or created


@pytest.mark.timeout(600)
def test_demo_guards_zope_and_limits_request_bodies(var_dir):
    """The demo serves as README's "Operating in production" recommends: waitress refuses
    bodies over its max_request_body_size (413), the add-on's WSGI filter answers 400 to a form
    without a multipart boundary and to a path that is not UTF-8 (Zope: 503 and 500)."""
    from test_wsgi_guard import raw_request

    from collective.messenger.demo.create_site import SITE_ID
    from collective.messenger.demo.zope_ini import MAX_REQUEST_BODY_BYTES

    stack = start_stack(
        var_dir, http_port=free_port(), redis_port=free_port(), sandbox_port=free_port()
    )
    try:
        with open(
            os.path.join(var_dir, "instance", "etc", "zope.ini"), encoding="utf-8"
        ) as ini:
            settings = ini.read()
        assert f"max_request_body_size = {MAX_REQUEST_BODY_BYTES}" in settings
        assert "use = egg:collective.messenger#request_guard" in settings
        host, port = "127.0.0.1", stack.http_port
        base = f"http://{host}:{port}"

        for path in ("/", f"/{SITE_ID}", f"/{SITE_ID}/@messenger-webhook/telegram"):
            response = requests.post(
                base + path,
                data=b"--x\r\n",
                timeout=30,
                headers={"Content-Type": "multipart/form-data"},
            )
            assert response.status_code == 400, (path, response.text[:300])
            assert "names no boundary" in response.text
        german = requests.post(
            f"{base}/{SITE_ID}",
            data=b"x",
            timeout=30,
            headers={"Content-Type": "multipart/form-data", "Accept-Language": "de"},
        )
        assert german.status_code == 400 and "Grenze" in german.text

        status, _head, text = raw_request(
            host, port, f"GET /{SITE_ID}/@messenger-webhook/%80 HTTP/1.0"
        )
        assert status == 400 and "UTF-8" in text and "Traceback" not in text

        # One byte over the limit, declared: waitress answers before reading the body.
        with socket.create_connection((host, port), timeout=30) as connection:
            connection.sendall(
                (
                    f"POST /{SITE_ID}/@messenger-webhook/telegram HTTP/1.1\r\n"
                    f"Host: {host}:{port}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {MAX_REQUEST_BODY_BYTES + 1}\r\n\r\n"
                ).encode("ascii")
            )
            answer = connection.recv(65536).decode("latin-1")
        assert answer.split()[1] == "413", answer[:300]

        assert get(stack.site_url)[0] == 200  # the site serves on
    finally:
        stack.stop()
    assert_all_gone(stack)


@pytest.mark.timeout(600)
def test_demo_on_a_redis_with_password_over_tls(var_dir, monkeypatch):
    """MESSENGER_REDIS_URL with a password and TLS (the CA from MESSENGER_REDIS_CA_FILE): the
    demo starts no Redis of its own, Zope and the worker log in over TLS, and the password
    shows nowhere (banner, logs)."""
    from collective.messenger.demo.run import _banner
    from messenger_worker.connection import CA_FILE_VARIABLE
    from messenger_worker.testing import RedisServer

    password = "demo-Redis-Passw0rd"
    server = RedisServer(password=password, tls=True).start()
    url = server.url_for(password=password, tls=True)
    monkeypatch.setenv(CA_FILE_VARIABLE, server.ca_file)
    stack = start_stack(
        var_dir, http_port=free_port(), redis_url=url, sandbox_port=free_port()
    )
    try:
        assert "redis" not in stack.processes
        assert get(stack.site_url)[0] == 200
        output = wait_for_worker(url)
        assert "Settings: version" in output
        assert f"rediss://:***@127.0.0.1:{server.tls_port}/0" in _banner(stack)
        over_tls = [
            c
            for c in server.client().client_list()
            if c["laddr"].endswith(f":{server.tls_port}")
        ]
        assert len(over_tls) >= 2  # the worker and its scheduler at least
        for name in os.listdir(stack.log_dir):
            with open(
                os.path.join(stack.log_dir, name), encoding="utf-8", errors="replace"
            ) as log:
                assert password not in log.read(), name
        assert password not in _banner(stack)
    finally:
        stack.stop()
        server.remove()
    assert_all_gone(stack)
