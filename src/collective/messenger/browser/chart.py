"""A small inline SVG bar chart of two series per day (signups and leavers), without JavaScript.

The chart is one image for assistive technology (role="img" with <title> and <desc> that
state the totals); the page puts the numbers per day next to it as a table. Both colours
meet 3:1 against white, the two bars of a day always stand in the same order, and the
legend names them in text, so colour is never the only key.
"""

from xml.sax.saxutils import escape

WIDTH = 720
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 28, 30
COLOURS = (
    "#0b5cad",
    "#b54708",
)  # blue and dark orange: apart for common colour blindness
LABEL_EVERY = 7


def nice_maximum(value):
    """The y axis top: 1, 2, 5, 10, 20, 50 ... at least ``value``."""
    top, steps = 1, (2, 2.5, 2)  # 1 -> 2 -> 5 -> 10 -> 20 ...
    number = 0
    while top < value:
        top = int(top * steps[number % 3])
        number += 1
    return top


def bar_chart(series, keys, names, title, desc, chart_id="messenger-chart"):
    """SVG markup: per item of ``series`` one bar per key, side by side.

    series: [{"day": date, key: n, ...}] oldest first; keys: the two series keys;
    names: their legend texts; title, desc: translated texts for assistive technology.
    """
    top = nice_maximum(max([item[key] for item in series for key in keys] + [1]))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(series), 1)
    bar = slot * 0.38
    base = TOP + plot_height
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'class="messenger-chart" id="{chart_id}" '
        # Plone's stylesheet sizes bare <svg> elements like icons; say the size here.
        f'style="display:block;width:100%;height:auto;max-width:{WIDTH}px">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    # Grid lines and y labels at 0, half and top.
    for value in sorted({0, top // 2, top}):
        y = base - plot_height * value / top
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#c8c8c8" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#333">{value}</text>'
        )
    for index, item in enumerate(series):
        x = LEFT + index * slot + (slot - 2 * bar) / 2
        for number, key in enumerate(keys):
            value = item[key]
            height = plot_height * value / top
            tip = f"{item['day'].isoformat()}: {value} {names[number]}"
            parts.append(
                f'<rect x="{x + number * bar:.1f}" y="{base - height:.1f}" '
                f'width="{bar:.1f}" height="{height:.1f}" fill="{COLOURS[number]}">'
                f"<title>{escape(tip)}</title></rect>"
            )
        if (
            len(series) - 1 - index
        ) % LABEL_EVERY == 0:  # the last day and every 7th before
            last = index == len(series) - 1  # right-aligned, so that it stays inside
            parts.append(
                f'<text x="{LEFT + (index + (1 if last else 0.5)) * slot:.1f}" y="{HEIGHT - 10}" '
                f'text-anchor="{"end" if last else "middle"}" font-size="12" fill="#333">'
                f"{escape(item['day'].isoformat())}</text>"
            )
    # Legend above the plot, in text, so the colours are not the only key.
    x = LEFT
    for number, name in enumerate(names):
        parts.append(
            f'<rect x="{x}" y="6" width="12" height="12" fill="{COLOURS[number]}"/>'
            f'<text x="{x + 18}" y="16" font-size="13" fill="#222">{escape(name)}</text>'
        )
        x += 24 + 8 * len(name)
    parts.append("</svg>")
    return "".join(parts)
