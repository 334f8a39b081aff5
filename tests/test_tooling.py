"""The lint and format tooling: CI lints before it tests, pre-commit runs the versions that
`make lint` runs, and `make format` cannot change what a German visitor reads.

The tools themselves live in .venv-lint (requirements-lint.txt), not in the test
environment; `make lint` runs them. These tests check what the tests' environment can.
"""

import pathlib
import re

import lxml.html
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "collective" / "messenger"


def pinned_tools():
    """name -> version of requirements-lint.txt."""
    pins = {}
    for line in (ROOT / "requirements-lint.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def test_pre_commit_runs_the_pinned_versions():
    config = (ROOT / ".pre-commit-config.yaml").read_text()
    used = dict(re.findall(r'"([a-z0-9_.-]+)==([^"]+)"', config))
    pins = pinned_tools()
    assert {"ruff", "zpretty", "codespell", "i18ndude"} <= set(used)
    for name, version in used.items():
        assert pins.get(name) == version, (
            f"{name}: pre-commit {version}, make lint {pins.get(name)}"
        )


def test_ci_lints_before_it_tests():
    commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip().startswith("make ")
    ]
    assert "make lint" in commands
    assert "make test" in commands
    assert commands.index("make lint") < commands.index("make test")
    assert "set -euo pipefail" in (ROOT / ".ci" / "run").read_text()


def message_text(element):
    """The msgid Chameleon and i18ndude take from an i18n:translate="" element: its text,
    with ${name} for each child that carries i18n:name."""
    parts = [element.text or ""]
    for child in element:
        name = child.get("i18n:name")
        parts.append(f"${{{name}}}" if name else child.text_content())
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())


def implicit_msgids(template):
    tree = lxml.html.fromstring(template.read_text(encoding="utf-8"))
    for element in tree.iter():
        if isinstance(element.tag, str) and element.get("i18n:translate") == "":
            yield message_text(element)


TEMPLATES = sorted(PACKAGE.rglob("*.pt"))


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_a_msgid_taken_from_template_text_is_ascii(template):
    """zpretty (`make format`) writes non-ASCII text of page templates as HTML entities
    (… becomes &hellip;). A msgid taken from such text would change with it and lose its
    German translation, so such an element names its msgid: i18n:translate="Delete all
    data…" (zpretty leaves attribute values alone)."""
    non_ascii = [msgid for msgid in implicit_msgids(template) if not msgid.isascii()]
    assert non_ascii == []


def test_the_templates_are_found():
    assert len(TEMPLATES) > 10
