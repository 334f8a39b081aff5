"""Comments and docstrings that send a reader to a document find it there.

A ``.md`` file named in the code exists (next to the file, in its package or at the top of
the repository), and a README section quoted by name is a heading of that README.
"""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
CODE = [
    ROOT / "src" / "collective" / "messenger",
    ROOT / "worker" / "src" / "messenger_worker",
]
SUFFIXES = {".py", ".zcml", ".xml", ".pt"}

MARKDOWN = re.compile(r"(?<![\w/.-])((?:[\w-]+/)*[\w-]+\.md)\b")
# README.md, "Permissions" / README's "Zope in production" / (README, "Operating: a hardened Redis"
SECTION = re.compile(r"\b((?:worker/)?README)(?:\.md)?(?:'s|,)\s+\"([^\"]+)\"")


def code_files():
    for top in CODE:
        for path in sorted(top.rglob("*")):
            if path.suffix in SUFFIXES and "egg-info" not in str(path):
                yield path


def candidates(path, name):
    package = next(top for top in CODE if top in path.parents)
    return [path.parent / name, package / name, ROOT / name, ROOT / "worker" / name]


def headings(readme):
    return [
        line.lstrip("#").strip()
        for line in (ROOT / readme).read_text().splitlines()
        if line.startswith("#")
    ]


def references():
    for path in code_files():
        text = path.read_text(encoding="utf-8")
        for match in MARKDOWN.finditer(text):
            yield path, "file", match.group(1)
        for match in SECTION.finditer(text):
            readme = (
                "worker/README.md"
                if match.group(1).startswith("worker/")
                else "README.md"
            )
            yield path, readme, " ".join(match.group(2).split())


def test_references_are_found():
    found = list(references())
    assert any(kind == "file" for _path, kind, _name in found)
    assert any(kind == "README.md" for _path, kind, _name in found)


@pytest.mark.parametrize(
    ("path", "kind", "name"),
    list(references()),
    ids=lambda value: (
        str(value.relative_to(ROOT)) if isinstance(value, pathlib.Path) else None
    ),
)
def test_referenced_document_exists(path, kind, name):
    if kind == "file":
        assert any(candidate.is_file() for candidate in candidates(path, name)), (
            f"{path}: {name} does not exist"
        )
    else:
        assert any(heading.startswith(name) for heading in headings(kind)), (
            f"{path}: no section {name!r} in {kind}"
        )
