"""Compare the committed message catalog with the msgids i18ndude finds in the code.

`make lint` runs this with the lint environment's Python (it has i18ndude). i18ndude
rebuilds the catalog from the Python code, the page templates and the GenericSetup
profiles into a temporary file; a msgid the code uses but the catalog lacks is a text
that stays English for German visitors, and a msgid only the catalog has is a stale
entry. Both are listed and fail the check. tests/test_i18n.py checks the German catalog
against the committed one.
"""

import pathlib
import subprocess
import sys
import tempfile

from i18ndude.catalog import MessageCatalog

DOMAIN = "collective.messenger"
PACKAGE = (
    pathlib.Path(__file__).resolve().parent.parent / "src" / "collective" / "messenger"
)
POT = PACKAGE / "locales" / f"{DOMAIN}.pot"


def msgids(pot):
    return {msgid for msgid in MessageCatalog(filename=str(pot)) if msgid}


def main():
    i18ndude = pathlib.Path(sys.executable).parent / "i18ndude"
    with tempfile.TemporaryDirectory() as tmp:
        rebuilt = pathlib.Path(tmp) / f"{DOMAIN}.pot"
        subprocess.run(
            [
                str(i18ndude),
                "rebuild-pot",
                "--pot",
                str(rebuilt),
                "--create",
                DOMAIN,
                ".",
            ],
            cwd=PACKAGE,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        in_code = msgids(rebuilt)
    in_catalog = msgids(POT)
    missing = sorted(in_code - in_catalog)
    stale = sorted(in_catalog - in_code)
    for msgid in missing:
        print(f"{POT.name}: missing msgid used in the code: {msgid!r}")
    for msgid in stale:
        print(f"{POT.name}: stale msgid no code uses: {msgid!r}")
    if missing or stale:
        print(
            "Add or remove these entries by hand in the .pot and the German .po "
            "(or run `make i18n`, which rewrites both catalogs)."
        )
        return 1
    print(f"{POT.name}: {len(in_catalog)} msgids, the same as in the code.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
