"""Every module-level function, class and constant of the add-on and the worker is used by
running code (or a template, ZCML, a profile, a benchmark), not only by the tests.

A helper only tests call belongs in the tests' support modules; one nobody calls is dead.
"""

import ast
import pathlib
import re
from collections import Counter

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = [
    ROOT / "src" / "collective" / "messenger",
    ROOT / "worker" / "src" / "messenger_worker",
]
# Where a name may be used: the distributions (the sandbox too), their metadata, benchmarks.
USERS = [ROOT / "src", ROOT / "worker", ROOT / "sandbox", ROOT / "benchmarks"]
USER_SUFFIXES = {".py", ".pt", ".zcml", ".xml", ".js", ".toml", ".cfg", ".txt"}
# Test layers and fixtures are for the tests by definition.
TEST_SUPPORT = {"testing.py"}


def skipped(path):
    parts = path.relative_to(ROOT).parts
    return bool({"tests", ".venv"} & set(parts)) or any(
        p.endswith(".egg-info") for p in parts
    )


def files(tops, suffixes):
    for top in tops:
        for path in top.rglob("*") if top.is_dir() else ():
            if path.suffix in suffixes and path.is_file() and not skipped(path):
                yield path


def defined_names(path):
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name, node.lineno
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    yield target.id, node.lineno


def test_no_module_level_name_is_used_by_tests_alone():
    words = Counter()
    for path in files(USERS, USER_SUFFIXES):
        words.update(
            re.findall(r"\w+", path.read_text(encoding="utf-8", errors="ignore"))
        )
    unused = []
    for path in files(PACKAGES, {".py"}):
        if path.name in TEST_SUPPORT:
            continue
        for name, line in defined_names(path):
            if name.startswith("__"):
                continue
            if words[name] <= 1:  # the definition itself is one occurrence
                unused.append(f"{path.relative_to(ROOT)}:{line} {name}")
    assert unused == []
