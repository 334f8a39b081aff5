"""Rendering posts for the channels: templates, dates, escaping and cutting (no network)."""

import pytest

from messenger_worker import render
from messenger_worker.channels.signal import escape as signal_escape
from messenger_worker.channels.signal import styled_text
from messenger_worker.channels.telegram import html_text
from messenger_worker.channels.threema import recipient_field
from messenger_worker.channels.whatsapp import button_suffix
from messenger_worker.channels.whatsapp import one_line
from messenger_worker.channels.whatsapp import template_details
from messenger_worker.payload import Post


def render_text(post, channel):
    """The post as plain text with ``channel``'s template, as the channels fill it."""
    return render.fill(post.template_for(channel), render.placeholder_values(post))


def make_post(**changes):
    values = dict(
        id="p1",
        content_uid="uid-1",
        kind="event",
        title="Vollsperrung Hauptstraße",
        url="https://www.musterstadt.de/aktuelles/vollsperrung",
        teaser="Wegen Kanalarbeiten ist die Hauptstraße gesperrt.",
        start="2026-11-23T07:00:00+01:00",
        end="2026-11-23T17:30:00+01:00",
        location="Hauptstraße 1-20",
    )
    values.update(changes)
    return Post(**values)


# Dates


def test_german_start_with_weekday_date_and_time():
    assert (
        render.format_start("2026-11-23T07:00:00+01:00") == "Mo., 23.11.2026, 07:00 Uhr"
    )


def test_english_start():
    assert (
        render.format_start("2026-11-23T07:00:00+01:00", "en")
        == "Mon, 23 Nov 2026, 07:00"
    )


def test_time_stays_in_the_offset_of_the_iso_string():
    # 23:30 in New York is the next day in UTC; the reader sees the editor's local time.
    assert (
        render.format_start("2026-07-05T23:30:00-04:00") == "So., 05.07.2026, 23:30 Uhr"
    )
    assert render.format_start("2026-07-05T06:15:00Z") == "So., 05.07.2026, 06:15 Uhr"


def test_same_day_end_is_a_time_only():
    start = "2026-11-23T07:00:00+01:00"
    assert render.format_end("2026-11-23T17:30:00+01:00", start) == "17:30 Uhr"
    assert render.format_end("2026-11-23T17:30:00+01:00", start, "en") == "17:30"


def test_end_on_another_day_is_written_in_full():
    start = "2026-11-23T07:00:00+01:00"
    assert (
        render.format_end("2026-11-24T12:00:00+01:00", start)
        == "Di., 24.11.2026, 12:00 Uhr"
    )


def test_all_day_dates_have_no_time():
    assert render.format_start("2026-12-24") == "Do., 24.12.2026"
    assert render.format_start("2026-12-24", "en") == "Thu, 24 Dec 2026"


def test_unreadable_date_is_shown_as_given():
    assert render.format_start("morgen früh") == "morgen früh"


def test_read_more_label_by_language():
    assert render.read_more_label("de") == "Weiterlesen"
    assert render.read_more_label("en") == "Read more"
    assert render.read_more_label(None) == "Weiterlesen"


# Templates


def test_default_template_fills_title_teaser_and_url():
    post = make_post(templates={})
    assert render_text(post, "telegram") == (
        "Vollsperrung Hauptstraße\n\nWegen Kanalarbeiten ist die Hauptstraße gesperrt.\n\n"
        "https://www.musterstadt.de/aktuelles/vollsperrung"
    )


def test_channel_template_wins_over_default():
    post = make_post(templates={"default": "{title}", "signal": "Signal: {title}"})
    assert render_text(post, "signal") == "Signal: Vollsperrung Hauptstraße"
    assert render_text(post, "threema") == "Vollsperrung Hauptstraße"


def test_event_template_with_dates_and_location():
    post = make_post(
        templates={"default": "{title}\nWann: {start} – {end}\nWo: {location}\n{url}"}
    )
    assert render_text(post, "threema") == (
        "Vollsperrung Hauptstraße\n"
        "Wann: Mo., 23.11.2026, 07:00 Uhr – 17:30 Uhr\n"
        "Wo: Hauptstraße 1-20\n"
        "https://www.musterstadt.de/aktuelles/vollsperrung"
    )


def test_lines_whose_placeholders_are_all_empty_are_dropped():
    post = make_post(
        teaser="",
        location="",
        start=None,
        end=None,
        templates={
            "default": "{title}\n\n{teaser}\n\nWann: {start} bis {end}\nOrt: {location}\n\n{url}"
        },
    )
    assert render_text(post, "signal") == (
        "Vollsperrung Hauptstraße\n\nhttps://www.musterstadt.de/aktuelles/vollsperrung"
    )


def test_a_line_with_one_filled_placeholder_stays():
    post = make_post(end=None, templates={"default": "Wann: {start} bis {end}"})
    assert render_text(post, "signal") == "Wann: Mo., 23.11.2026, 07:00 Uhr bis"


def test_lines_without_placeholders_and_unknown_braces_stay():
    post = make_post(
        templates={"default": "Stadt Musterstadt {info}\n{title}\nAbmelden: /stop"}
    )
    assert render_text(post, "telegram") == (
        "Stadt Musterstadt {info}\nVollsperrung Hauptstraße\nAbmelden: /stop"
    )


# Cutting


def test_cut_words_ends_on_a_word_boundary_with_an_ellipsis():
    text = "Die Hauptstraße ist wegen Kanalarbeiten gesperrt"
    assert render.cut_words(text, 20) == "Die Hauptstraße ist…"
    assert len(render.cut_words(text, 20)) <= 20
    assert render.cut_words(text, 100) == text


def test_cut_words_cuts_inside_an_overlong_word():
    assert render.cut_words("Donaudampfschifffahrtsgesellschaft", 10) == "Donaudamp…"


def test_cut_bytes_never_splits_a_character():
    text = "Größe: 10 €"  # ö is 2 bytes, € is 3 bytes
    assert render.cut_bytes(text, 3) == "Gr"
    assert render.cut_bytes(text, 4) == "Grö"
    assert render.cut_bytes(text, 14) == "Größe: 10 "
    assert render.cut_bytes(text, 15) == text


def test_cut_words_by_bytes():
    text = "Straßenfest " * 400
    cut = render.cut_words(text, 3500, render.utf8_size)
    assert render.utf8_size(cut) <= 3500
    assert cut.endswith("Straßenfest…")


def test_fit_values_shortens_the_teaser_first_and_keeps_the_link():
    post = make_post(teaser="Wort " * 2000)
    template = "{title}\n\n{teaser}\n\n{url}"
    values = render.fit_values(template, render.placeholder_values(post), 1024)
    text = render.fill(template, values)
    assert len(text) <= 1024
    assert values["title"] == post.title
    assert text.endswith("…\n\n" + post.url)


def test_utf16_size_counts_emoji_twice():
    assert render.utf16_size("ab") == 2
    assert render.utf16_size("🚧") == 2


# Channel markup


def test_telegram_html_escapes_everything_and_bolds_the_title():
    post = make_post(
        title="Tom & Jerry <live>",
        teaser="1 < 2 & 3 > 2",
        templates={"default": "{title}\n{teaser}\nK&K <b>"},
    )
    text = html_text(post.template_for("telegram"), render.placeholder_values(post))
    assert (
        text
        == "<b>Tom &amp; Jerry &lt;live&gt;</b>\n1 &lt; 2 &amp; 3 &gt; 2\nK&amp;K &lt;b&gt;"
    )


def test_signal_styled_text_escapes_marks_and_bolds_the_title():
    post = make_post(
        title="5 * 3 = 15",
        teaser="~ca.~ `code` ||x||",
        templates={"default": "{title}\n{teaser}"},
    )
    text = styled_text(post.template_for("signal"), render.placeholder_values(post))
    assert text == "**5 \\* 3 = 15**\n\\~ca.\\~ \\`code\\` \\|\\|x\\|\\|"


def test_signal_escape_keeps_a_trailing_backslash_from_eating_the_bold_mark():
    assert signal_escape("a\\") == "a\\\u200b"


def test_whatsapp_parameters_are_one_line():
    assert one_line("Zeile 1\n\tZeile 2      Ende ") == "Zeile 1 Zeile 2 Ende"


def test_whatsapp_details_join_teaser_time_and_place():
    post = make_post()
    assert template_details(post) == (
        "Wegen Kanalarbeiten ist die Hauptstraße gesperrt. · "
        "Mo., 23.11.2026, 07:00 Uhr – 17:30 Uhr · Hauptstraße 1-20"
    )
    assert (
        template_details(make_post(teaser="", start=None, end=None, location="")) == "–"
    )


def test_whatsapp_button_suffix_is_the_path_after_the_site_root():
    assert (
        button_suffix("https://www.musterstadt.de/aktuelles/vollsperrung")
        == "aktuelles/vollsperrung"
    )
    assert button_suffix("https://www.musterstadt.de/a/b?c=1") == "a/b?c=1"


@pytest.mark.parametrize(
    "address, field",
    [
        ("ECHOECHO", ("to", "ECHOECHO")),
        ("echoecho", ("to", "ECHOECHO")),
        ("+49 151 1234567", ("phone", "491511234567")),
        ("+4915112345678", ("phone", "4915112345678")),
    ],
)
def test_threema_recipient_is_an_id_or_a_phone_number(address, field):
    assert recipient_field(address) == field
