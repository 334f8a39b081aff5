"""The demo instance's ``zope.conf`` as a real site needs it: blob storage, no debug mode.

``mkwsgiinstance`` writes a FileStorage without a ``blob-dir``, so adding a lead image ends in
"TypeError: Blobs are not supported". ``prepare`` runs on every start of the demo, so an
instance made by an earlier version gets the blob directory too; existing data stays where
it is (a FileStorage without blobs opens unchanged with a blob directory beside it).
Debug mode and debug exceptions are written out as "off", so no visitor sees a traceback
and nobody has to know that off is Zope's default.
"""

import re

BLOB_DIR = "$INSTANCE/var/blobstorage"
SWITCHES = ("debug-mode off", "debug-exceptions off")


def with_blob_dir(text):
    """``text`` with a ``blob-dir`` line in its ``<filestorage>`` section (if it has none)."""
    section = re.search(r"(?ms)^(\s*)<filestorage>\s*$(.*?)^\s*</filestorage>", text)
    if section is None:
        raise ValueError("zope.conf has no <filestorage> section to add a blob-dir to.")
    if re.search(r"(?m)^\s*blob-dir\s", section.group(2)):
        return text
    path = re.search(r"(?m)^([ \t]*)path\s.*$", section.group(2))
    if path is None:
        raise ValueError("zope.conf's <filestorage> section has no path line.")
    end = section.start(2) + path.end()
    return f"{text[:end]}\n{path.group(1)}blob-dir {BLOB_DIR}{text[end:]}"


def with_switches(text):
    """``text`` with debug mode and debug exceptions switched off (replacing any "on")."""
    for switch in SWITCHES:
        name = switch.split()[0]
        text, found = re.subn(rf"(?m)^[ \t]*{name}[ \t]+\S+[ \t]*$", switch, text)
        if not found:
            # Before the first section: top-level keys may not follow <zodb_db>.
            first = re.search(r"(?m)^<", text)
            at = first.start() if first else len(text)
            text = f"{text[:at]}{switch}\n{text[at:]}"
    return text


def prepare(path):
    """Bring the ``zope.conf`` at ``path`` up to date; returns True when it changed."""
    with open(path, encoding="utf-8") as conf:
        text = conf.read()
    changed = with_switches(with_blob_dir(text))
    if changed == text:
        return False
    with open(path, "w", encoding="utf-8") as conf:
        conf.write(changed)
    return True
