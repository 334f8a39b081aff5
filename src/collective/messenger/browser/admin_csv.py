"""The subscriber counts as CSV for spreadsheets: one row per scope, channel and state.

Topic titles come from the control panel and may start with "=" or "+": a spreadsheet
would run them as formulas (CSV injection), so such cells get a leading apostrophe.
A byte order mark lets Excel read the file as UTF-8 (umlauts in titles).
"""

import csv
import io

from collective.messenger.subscribers.model import CHANNELS
from collective.messenger.subscribers.model import STATES

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def safe_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


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
            writer.writerow(
                [safe_cell(all_topics), "", channel_title(channel), state_title(state),
                 counts["channels"][channel][state]]
            )
    for topic in topics:
        per_channel = counts["topic_channels"].get(topic["id"], {})
        for channel in CHANNELS:
            for state in STATES:
                writer.writerow(
                    [safe_cell(topic["title"]), safe_cell(topic["id"]), channel_title(channel),
                     state_title(state), per_channel.get(channel, {}).get(state, 0)]
                )
    return BOM + out.getvalue()
