"""Three distributions: the add-on, the delivery worker and the sandbox.

The production worker has no sandbox command, neither the worker nor the add-on's runtime
imports the sandbox (only the demo does), and the sandbox has its own console script and
pytest plugin. tests/test_wheels.py installs the built wheels without the sandbox.
"""

import ast
import os
import pathlib
import subprocess
import sys

import requests

import collective.messenger
import messenger_worker

ADDON = pathlib.Path(collective.messenger.__file__).parent
WORKER = pathlib.Path(messenger_worker.__file__).parent
# Modules of the add-on allowed to import the sandbox: the demo runs it for people to click.
DEMO_ONLY = ADDON / "demo"


def _imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _sandbox_imports(package_dir, skip=None):
    found = []
    for path in sorted(package_dir.rglob("*.py")):
        if skip is not None and skip in path.parents:
            continue
        for name in _imported_modules(path):
            if name.split(".")[0] == "messenger_sandbox" or name.startswith(
                "messenger_worker.sandbox"
            ):
                found.append(f"{path.relative_to(package_dir.parent)}: {name}")
    return found


def test_addon_runtime_imports_nothing_from_the_sandbox():
    assert _sandbox_imports(ADDON, skip=DEMO_ONLY) == []
    # The check itself sees the demo's imports (it would see any other module's too).
    assert any(
        "demo/sandbox.py: messenger_sandbox" in line for line in _sandbox_imports(ADDON)
    )


def test_worker_imports_nothing_from_the_sandbox():
    assert not (WORKER / "sandbox").exists()
    assert _sandbox_imports(WORKER) == []


def test_worker_command_line_has_no_sandbox_command():
    help_text = subprocess.run(
        [sys.executable, "-m", "messenger_worker.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "{run,status,test-channel}" in help_text
    assert "sandbox" not in help_text
    result = subprocess.run(
        [sys.executable, "-m", "messenger_worker.cli", "sandbox"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "invalid choice: 'sandbox'" in result.stderr


def test_sandbox_console_script_serves_the_phones():
    script = os.path.join(os.path.dirname(sys.executable), "messenger-sandbox")
    process = subprocess.Popen(
        [script, "--port", "0", "--log-level", "WARNING"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        assert banner.startswith("Messenger sandbox listening on http://127.0.0.1:"), (
            banner
        )
        url = banner.split()[4]
        page = requests.get(f"{url}/_sandbox/", timeout=10)
        assert page.status_code == 200
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0  # SIGTERM stops it quietly


def test_sandbox_fixtures_come_from_its_pytest_plugin(request, sandbox):
    plugin = request.config.pluginmanager.get_plugin("messenger_sandbox")
    assert plugin is not None
    assert plugin.__name__ == "messenger_sandbox.pytest_fixtures"
    # conftest.py no longer imports them: the fixture is the plugin's.
    definition = request._fixturemanager.getfixturedefs("sandbox", request.node)[-1]
    assert definition.func.__module__ == "messenger_sandbox.pytest_fixtures"
    assert requests.get(f"{sandbox.url}/_sandbox/", timeout=10).status_code == 200
