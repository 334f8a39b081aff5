"""The subscriber counts as CSV for spreadsheets: one row per scope, channel and state.

Topic titles come from the control panel and may start with "=" or "+": a spreadsheet
would run them as formulas (CSV injection), so such cells get a leading apostrophe. Not
only at the start: a spreadsheet may split the file at another separator than ours (German
Excel splits at ";", others at tabs), and then the text after a ";" inside a title is a
cell of its own. So an apostrophe goes before every formula start that follows a
separator or a line break as well. A byte order mark lets Excel read the file as UTF-8
(umlauts in titles).
"""

import csv
import io
import re

from collective.messenger.subscribers.model import CHANNELS
from collective.messenger.subscribers.model import STATES

# Excel also takes the full-width forms (as typed with an East Asian keyboard) for formulas.
FORMULA_STARTS = "=+-@\uff1d\uff0b\uff0d\uff20"
# Where a spreadsheet may start a cell: the start, any separator it might guess, a line break.
CELL_START = "^|[,;\t\r\n]"
# A formula start at a cell start, after the spaces a spreadsheet may trim.
FORMULA = re.compile(f"({CELL_START})( *)(?=[{re.escape(FORMULA_STARTS)}])")
BOM = "\ufeff"


def safe_cell(value):
    """``value`` with an apostrophe before each formula start a spreadsheet could see."""
    if not isinstance(value, str):
        return value
    if value.startswith(("\t", "\r", "\n")):
        value = "'" + value
    return FORMULA.sub(r"\1\2'", value)


def counts_csv(counts, topics, header, channel_title, state_title, all_topics):
    """CSV text of ``store.counts()``.

    topics: rows of ``admin_counts.topic_rows`` (id and title, in display order);
    header: the column titles (translated); channel_title, state_title: id -> text;
    all_topics: the text in the topic column of the rows counting each subscriber once.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(name) for name in header])
    for channel in CHANNELS:
        for state in STATES:
            writer.writerow([
                safe_cell(all_topics),
                "",
                channel_title(channel),
                state_title(state),
                counts["channels"][channel][state],
            ])
    for topic in topics:
        per_channel = counts["topic_channels"].get(topic["id"], {})
        for channel in CHANNELS:
            for state in STATES:
                writer.writerow([
                    safe_cell(topic["title"]),
                    safe_cell(topic["id"]),
                    channel_title(channel),
                    state_title(state),
                    per_channel.get(channel, {}).get(state, 0),
                ])
    return BOM + out.getvalue()
