"""Charts of the officials' dashboard as SVG text: a SIPAS trend line and ranking bars.

Pure string building, so a page can inline them: no font file, script or external
reference, sized by `viewBox` so they scale down to a phone. Every text that came from
data (agency names, labels) is escaped, and characters XML cannot hold are dropped, so a
hostile catalogue name stays text. Each chart is an image to assistive technology
(`role="img"`, `aria-label`, `<title>`), and a `<desc>` lists its figures.
Numbers follow the language (66,08 in Vietnamese, 66.08 in English, `bot.i18n`).

The inputs are duck-typed so `handlers.dashboard` needs no import of this module:
a trend point has `label`, `index` (None: no figure), `forms`, `reliable`; a ranking
row has `code`, `name`, `index`, `forms`, `reliable`.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Protocol

from bot.i18n import count, number, shipped

WIDTH = 640
TREND_HEIGHT = 300
ROW = 26
NAME_CHARS = 30
BLUE, GREY, RED, PALE = "#1565c0", "#90a4ae", "#c62828", "#bbdefb"
FONT = 'font-family="sans-serif"'
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class TrendPointLike(Protocol):
    label: str
    index: float | None
    forms: int
    reliable: bool


class RankingRowLike(Protocol):
    code: str
    name: str
    index: float | None
    forms: int
    reliable: bool


def escape(text: object) -> str:
    """Text as XML character data or attribute value (quotes included), NFC, and
    without the characters XML 1.0 cannot carry."""
    clean = _NOT_XML.sub("", unicodedata.normalize("NFC", str(text)))
    return html.escape(clean, quote=True)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _word(lang: str, key: str) -> str:
    return shipped()(lang, key)


def _target(target: float, lang: str) -> str:
    """As `handlers.reports.target_text` writes it: 80%, 82,50%."""
    if _finite(target) is None:
        return number(None, lang)
    decimals = 0 if float(target).is_integer() else 2
    return f"{number(target, lang, decimals=decimals)}%"


def _svg(title: str, width: int, height: int, body: Iterable[str], desc: str) -> str:
    label = escape(title)
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="{label}" preserveAspectRatio="xMidYMid meet" '
            f'{FONT} font-size="12">',
            f"<title>{label}</title>",
            f"<desc>{escape(desc)}</desc>",
            *body,
            "</svg>",
        ]
    )


def _finite(index: float | None) -> float | None:
    """The value, or None for what no chart can place (None, NaN, infinities)."""
    return index if index is not None and math.isfinite(index) else None


def _value(index: float | None, lang: str) -> str:
    return number(_finite(index), lang)


def _describe(items: Iterable[tuple[str, float | None, int, bool]], lang: str) -> str:
    parts = []
    for label, index, forms, reliable in items:
        text = (
            f"{label}: {_value(index, lang)} ({count(forms, lang)} {_word(lang, 'dashboard_forms')}"
        )
        if _finite(index) is not None and not reliable:
            text += f", {_word(lang, 'dashboard_small_sample')}"
        parts.append(text + ")")
    return "; ".join(parts) or _word(lang, "dashboard_no_data")


def trend_svg(points: Sequence[TrendPointLike], lang: str, title: str | None = None) -> str:
    """SIPAS over time: a line through the points with their values, 0-100 on the y axis.

    A point without a figure breaks the line; a small-sample point is hollow and grey."""
    title = title or _word(lang, "dashboard_trend_title")
    left, right, top, bottom = 44, 16, 28, 48
    plot_w, plot_h = WIDTH - left - right, TREND_HEIGHT - top - bottom
    body = []
    for tick in range(0, 101, 20):
        y = top + plot_h * (1 - tick / 100)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" '
            f'stroke="#e0e0e0" stroke-width="1"/>'
        )
        body.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#616161">'
            f"{escape(number(tick, lang, decimals=0))}</text>"
        )
    step = plot_w / max(len(points), 1)
    xs = [left + step * (position + 0.5) for position in range(len(points))]

    def y_of(index: float) -> float:
        return top + plot_h * (1 - max(0.0, min(100.0, index)) / 100)

    segments, current = [], []
    for x, point in zip(xs, points, strict=True):
        if _finite(point.index) is None:
            if current:
                segments.append(current)
            current = []
        else:
            current.append(f"{x:.1f},{y_of(point.index):.1f}")
    if current:
        segments.append(current)
    for segment in segments:
        body.append(
            f'<polyline points="{" ".join(segment)}" fill="none" stroke="{BLUE}" stroke-width="2"/>'
        )
    every = max(1, -(-len(points) // 12))  # at most 12 axis labels
    for position, (x, point) in enumerate(zip(xs, points, strict=True)):
        if position % every == 0 or position == len(points) - 1:
            body.append(
                f'<text x="{x:.1f}" y="{TREND_HEIGHT - bottom + 18}" text-anchor="middle" '
                f'fill="#424242" font-size="11">{escape(point.label)}</text>'
            )
        if _finite(point.index) is None:
            continue
        y = y_of(point.index)
        fill, stroke = (BLUE, BLUE) if point.reliable else ("#ffffff", GREY)
        tip = f"{point.label}: {_value(point.index, lang)}"
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="2"><title>{escape(tip)}</title></circle>'
        )
        body.append(
            f'<text x="{x:.1f}" y="{y - 9:.1f}" text-anchor="middle" font-size="10" '
            f'fill="{"#212121" if point.reliable else GREY}">'
            f"{escape(_value(point.index, lang))}</text>"
        )
    desc = _describe(((p.label, p.index, p.forms, p.reliable) for p in points), lang)
    return _svg(title, WIDTH, TREND_HEIGHT, body, desc)


def ranking_svg(
    rows: Sequence[RankingRowLike], lang: str, target: float, title: str | None = None
) -> str:
    """Horizontal bars, one row per unit in the given order, with a dashed target line.

    A small-sample unit's bar is pale; a unit without a figure shows "—"."""
    title = title or _word(lang, "dashboard_ranking_title")
    label_w, right, top, bottom = 230, 110, 30, 12
    plot_w = WIDTH - label_w - right
    height = top + ROW * max(len(rows), 1) + bottom
    body = []
    for position, row in enumerate(rows):
        y = top + ROW * position
        name = _cut(f"{row.code} {row.name}", NAME_CHARS)
        body.append(f"<g><title>{escape(f'{row.code} {row.name}')}</title>")
        body.append(
            f'<text x="{label_w - 8}" y="{y + ROW / 2 + 4:.1f}" text-anchor="end" '
            f'fill="#212121">{escape(name)}</text>'
        )
        value = _value(row.index, lang)
        if _finite(row.index) is not None:
            width = plot_w * max(0.0, min(100.0, row.index)) / 100
            colour = BLUE if row.reliable else PALE
            body.append(
                f'<rect x="{label_w}" y="{y + 4}" width="{width:.1f}" height="{ROW - 8}" '
                f'fill="{colour}"/>'
            )
            end = label_w + width + 4
        else:
            end = label_w + 4
        if _finite(row.index) is not None and not row.reliable:
            value += f" ({_word(lang, 'dashboard_small_sample')})"
        body.append(
            f'<text x="{end:.1f}" y="{y + ROW / 2 + 4:.1f}" font-size="11" fill="#212121">'
            f"{escape(value)}</text>"
        )
        body.append("</g>")
    x = label_w + plot_w * max(0.0, min(100.0, _finite(target) or 0.0)) / 100
    body.append(
        f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - bottom}" '
        f'stroke="{RED}" stroke-width="1.5" stroke-dasharray="5,3"/>'
    )
    body.append(
        f'<text x="{x:.1f}" y="{top - 10}" text-anchor="middle" font-size="11" fill="{RED}">'
        f"{escape(_word(lang, 'dashboard_target'))} {escape(_target(target, lang))}</text>"
    )
    desc = _describe(((f"{r.code} {r.name}", r.index, r.forms, r.reliable) for r in rows), lang)
    desc = f"{_word(lang, 'dashboard_target')} {_target(target, lang)}. {desc}"
    return _svg(title, WIDTH, height, body, desc)
