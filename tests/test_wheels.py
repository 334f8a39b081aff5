"""The distributions as a site installs them: sdists, wheels built from those sdists, a fresh
virtual environment, a real Zope with a Plone site and the add-on.

Catches files the sdist leaves out (browser/status.py reads status_script.js when it is
imported, so a wheel without it cannot load the add-on's ZCML) and runtime imports of the
sandbox (the add-on and the worker are installed without it). Slow (a few minutes: Plone's
dependencies are installed from the package index, pinned by constraints.txt); skipped only
when no package index is reachable.
"""

import json
import os
import pathlib
import subprocess
import sys
import tarfile
import textwrap
import zipfile

import pytest

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"
PROJECTS = {
    "collective.messenger": ROOT,
    "messenger-worker": ROOT / "worker",
    "messenger-sandbox": ROOT / "sandbox",
}
PIP_TIMEOUT = 600

CREATE_SITE = textwrap.dedent(
    """
    import json
    import sys

    import transaction
    from Products.CMFPlone.factory import addPloneSite
    from Products.CMFPlone.utils import get_installer
    from zope.component.hooks import setSite
    from zope.i18n import translate

    site = addPloneSite(app, "Plone", default_language="de",  # noqa: F821 (zconsole's app)
                        extension_ids=["plone.app.contenttypes:default", "collective.messenger:default"])
    transaction.commit()
    setSite(site)
    # Reads status_script.js at import (the ZCML above imported it already).
    import collective.messenger.browser.status  # noqa: F401
    print(json.dumps({
        "installed": get_installer(site).is_product_installed("collective.messenger"),
        "german": translate("erase_after_days_title", domain="collective.messenger", target_language="de"),
        "sandbox_loaded": sorted(name for name in sys.modules if name.startswith("messenger_sandbox")),
        "addon_file": collective.messenger.__file__,
    }))
    """
)


def run(command, cwd=None, env=None, timeout=PIP_TIMEOUT):
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def package_index(tmp_path_factory):
    """Skip, with the reason, when pip cannot reach a package index (no internet, no mirror)."""
    probe = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "-c",
            str(CONSTRAINTS),
            "-d",
            str(tmp_path_factory.mktemp("probe")),
            "zope.interface",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    if probe.returncode != 0:
        lines = probe.stderr.strip().splitlines() or ["(no output)"]
        reason = next((line for line in lines if line.startswith("ERROR")), lines[-1])
        pytest.skip(
            "no package index reachable, the wheel test needs one "
            f"(pip download zope.interface failed: {reason})"
        )


@pytest.fixture(scope="module")
def sdists(tmp_path_factory):
    """The sdist of each distribution, as ``python -m build --sdist`` makes it."""
    directory = tmp_path_factory.mktemp("sdist")
    built = {}
    for name, project in PROJECTS.items():
        filename = (
            run(
                [
                    sys.executable,
                    "-c",
                    "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))",
                    directory,
                ],
                cwd=project,
            )
            .strip()
            .splitlines()[-1]
        )
        built[name] = directory / filename
    return built


@pytest.fixture(scope="module")
def wheels(sdists, tmp_path_factory):
    """A wheel of each distribution built from its sdist (not from the tree), as pip would."""
    directory = tmp_path_factory.mktemp("wheels")
    for sdist in sdists.values():
        run([
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            directory,
            sdist,
        ])
    return {
        name: next(directory.glob(f"{name.replace('-', '_').replace('.', '_')}-*.whl"))
        for name in PROJECTS
    }


def tracked_files(project):
    """The files git tracks for a distribution (the add-on: all but worker/ and sandbox/)."""
    paths = subprocess.run(
        ["git", "ls-files", "-z", "."],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    others = [
        f"{path.relative_to(ROOT)}/" for path in PROJECTS.values() if path != project
    ]
    return {path for path in paths if path and not path.startswith(tuple(others))}


def test_sdists_carry_every_tracked_file(sdists):
    for name, project in PROJECTS.items():
        with tarfile.open(sdists[name]) as sdist:
            files = {
                member.name.split("/", 1)[1]
                for member in sdist.getmembers()
                if member.isfile()
            }
        assert sorted(tracked_files(project) - files) == [], name


def wheel_files(path):
    with zipfile.ZipFile(path) as wheel:
        return set(wheel.namelist())


def test_wheels_carry_the_files_the_code_reads(wheels):
    files = wheel_files(wheels["collective.messenger"])
    addon = "collective/messenger/"
    tracked = {
        path
        for path in tracked_files(ROOT)
        if path.startswith("src/collective/messenger/")
    }
    assert (
        sorted(path for path in tracked if path.removeprefix("src/") not in files) == []
    )
    assert f"{addon}browser/status_script.js" in files
    assert f"{addon}locales/de/LC_MESSAGES/collective.messenger.po" in files
    assert not any(name.startswith("messenger_sandbox/") for name in files)
    assert not any(
        name.startswith("messenger_worker/sandbox/")
        for name in wheel_files(wheels["messenger-worker"])
    )
    sandbox_files = wheel_files(wheels["messenger-sandbox"])
    assert "messenger_sandbox/pytest_fixtures.py" in sandbox_files
    entry_points = next(
        name for name in sandbox_files if name.endswith("entry_points.txt")
    )
    with zipfile.ZipFile(wheels["messenger-sandbox"]) as wheel:
        text = wheel.read(entry_points).decode()
    assert (
        "[pytest11]" in text
        and "messenger-sandbox = messenger_sandbox.command:main" in text
    )


# Installing Plone into an empty environment takes one to three minutes on a busy machine.
@pytest.mark.timeout(600)
def test_plone_site_from_the_installed_wheels(
    package_index, wheels, tmp_path, redis_server
):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], timeout=120)
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "-c", CONSTRAINTS]
    # The add-on and the worker only: a production site without the sandbox.
    run([*pip, wheels["collective.messenger"], wheels["messenger-worker"]])

    instance = tmp_path / "instance"
    run(
        [venv / "bin" / "mkwsgiinstance", "-d", instance, "-u", "admin:admin"],
        timeout=120,
    )
    script = tmp_path / "create_site.py"
    script.write_text(CREATE_SITE, encoding="utf-8")
    env = {
        **os.environ,
        "zope_i18n_compile_mo_files": "true",
        "MESSENGER_REDIS_URL": redis_server.url,
        "MESSENGER_HOUSEKEEPING_SECONDS": "0",
        "PYTHONPATH": "",
    }
    output = run(
        [venv / "bin" / "zconsole", "run", instance / "etc" / "zope.conf", script],
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    result = json.loads(output.strip().splitlines()[-1])
    assert result["installed"] is True
    assert result["addon_file"].startswith(str(venv))  # the wheel, not the checkout
    assert result["sandbox_loaded"] == []
    # The .po from the wheel, compiled by Zope at start-up (no .mo in the wheel).
    assert result["german"] == "Adressen nach der Abmeldung löschen (Tage)"

    # The sandbox's wheel adds its console script and pytest plugin to the same environment.
    run([*pip, wheels["messenger-sandbox"]])
    usage = run([venv / "bin" / "messenger-sandbox", "--help"], timeout=60)
    assert usage.startswith("usage: messenger-sandbox")
    worker_usage = run([venv / "bin" / "messenger-worker", "--help"], timeout=60)
    assert "sandbox" not in worker_usage
