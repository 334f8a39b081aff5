"""Every text a person reads has a German translation, and German browsers get it."""

import ast
import pathlib
import re

import pytest
import transaction
from conftest import PASSWORD
from plone import api
from plone.testing.zope import Browser

PACKAGE = pathlib.Path(__file__).parent.parent / "src" / "collective" / "messenger"
POT = PACKAGE / "locales" / "collective.messenger.pot"
PO_DE = PACKAGE / "locales" / "de" / "LC_MESSAGES" / "collective.messenger.po"


def catalog(path):
    """msgid -> msgstr of a .po/.pot file (multi-line strings joined)."""
    entries, current, field = {}, None, None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r'^(msgid|msgstr) "(.*)"$', line)
        if match:
            field = match.group(1)
            if field == "msgid":
                current = [match.group(2), ""]
                entries_key = None
            else:
                current[1] = match.group(2)
                entries_key = current[0]
            if entries_key is not None:
                entries[entries_key] = current[1]
        elif line.startswith('"') and current is not None:
            index = 0 if field == "msgid" else 1
            current[index] += line[1:-1]
            if field == "msgstr":
                entries[current[0]] = current[1]
    entries.pop("", None)
    return entries


def python_msgids():
    """Literal msgids of every ``_("...")`` call in the add-on's Python code."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "_"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found[node.args[0].value] = f"{path.name}:{node.lineno}"
    return found


def test_every_msgid_has_a_german_translation():
    german = catalog(PO_DE)
    untranslated = [
        msgid for msgid, msgstr in catalog(POT).items() if not german.get(msgid)
    ]
    assert untranslated == []
    assert len(german) >= 100


def test_german_catalog_has_no_stale_entries():
    assert set(catalog(PO_DE)) == set(catalog(POT))


def test_every_python_msgid_is_in_the_catalog():
    known = {msgid.replace('\\"', '"') for msgid in catalog(POT)}
    missing = {
        msgid: where for msgid, where in python_msgids().items() if msgid not in known
    }
    assert missing == {}, "run 'make i18n' and translate the new entries"


def test_placeholders_survive_translation():
    german = catalog(PO_DE)
    for msgid, msgstr in catalog(POT).items():
        del msgstr
        source = set(re.findall(r"\$\{\w+\}", msgid))
        assert source <= set(re.findall(r"\$\{\w+\}", german[msgid])), msgid


@pytest.fixture
def german_browser(functional, site):
    api.portal.set_registry_record("plone.available_languages", ["en", "de"])
    api.portal.set_registry_record("plone.use_request_negotiation", True)
    transaction.commit()
    browser = Browser(functional["app"])
    browser.addHeader("Authorization", f"Basic siteadmin:{PASSWORD}")
    browser.addHeader("Accept-Language", "de-DE,de;q=0.9")
    return browser


def test_control_panel_in_german(german_browser, site):
    german_browser.open(site.absolute_url() + "/@@messenger-controlpanel")
    page = german_browser.contents
    for text in (
        "Themen",
        "Kanäle",
        "Zustellung",
        "Einstellungen an die Zustelldienste senden",
        "Telegram anbieten",
        "Nachrichtenvorlagen",
        "Warteschlangen",
    ):
        assert text in page, text


def test_validation_error_in_german(german_browser, site):
    german_browser.open(site.absolute_url() + "/@@messenger-controlpanel")
    german_browser.getControl(name="form.widgets.topics").value = "Frei Bad | Freibad"
    german_browser.getControl(name="form.buttons.save").click()
    assert 'Zeile 1: "Frei Bad" ist keine gültige Themen-ID' in german_browser.contents
