"""The dashboard's SVG charts: well-formed, accessible, escaped, numbers in the language."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest

from bot.rendering.svg import escape, ranking_svg, trend_svg

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script> & \'quoted\' "name" ]]> \x00\x1b'


@dataclass(frozen=True)
class Point:
    label: str
    index: float | None
    forms: int
    reliable: bool


@dataclass(frozen=True)
class Row:
    code: str
    name: str
    index: float | None
    forms: int
    reliable: bool


POINTS = [
    Point("2025-05", 66.08, 1539, True),
    Point("2025-06", None, 0, False),
    Point("2025-07", 71.5, 12, False),
    Point("2025-08", 80.25, 40, True),
]
ROWS = [
    Row("STP", "Sở Tư pháp", 91.256, 1539, True),
    Row("XA1", "Xã An Bình", 66.08, 4, False),
    Row("XA2", "Xã Mới", None, 0, False),
]


def parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(element.itertext()) for element in root.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    "draw", [lambda: trend_svg(POINTS, "vi"), lambda: ranking_svg(ROWS, "vi", 80)]
)
def test_well_formed_accessible_and_self_contained(draw):
    svg = draw()
    root = parsed(svg)
    assert root.get("role") == "img"
    assert root.get("aria-label") == root.find(f"{SVG}title").text
    assert root.get("viewBox").startswith("0 0 ") and root.get("width") is None
    assert root.find(f"{SVG}desc").text
    lowered = svg.lower()
    for forbidden in ("<script", "href", "@import", "url(", "@font-face", "<foreignobject"):
        assert forbidden not in lowered


def test_trend_numbers_in_vietnamese_and_english():
    vi = parsed(trend_svg(POINTS, "vi"))
    en = parsed(trend_svg(POINTS, "en"))
    assert {"66,08", "71,50", "80,25"} <= set(texts(vi))
    assert {"66.08", "71.50", "80.25"} <= set(texts(en))
    assert "1.539 phiếu" in vi.find(f"{SVG}desc").text
    assert "1,539 forms" in en.find(f"{SVG}desc").text
    assert "mẫu nhỏ" in vi.find(f"{SVG}desc").text  # 2025-07 has 12 forms


def test_trend_line_breaks_at_a_gap_and_hollows_small_samples():
    root = parsed(trend_svg(POINTS, "en"))
    lines = root.findall(f"{SVG}polyline")
    assert [len(line.get("points").split()) for line in lines] == [1, 2]
    circles = root.findall(f"{SVG}circle")
    assert len(circles) == 3  # the gap has no point
    assert [circle.get("fill") for circle in circles] == ["#1565c0", "#ffffff", "#1565c0"]
    assert [label for label in texts(root) if label.startswith("2025-")] == [
        "2025-05",
        "2025-06",
        "2025-07",
        "2025-08",
    ]


def test_ranking_bars_target_and_formats():
    vi = parsed(ranking_svg(ROWS, "vi", 82.5))
    bars = list(vi.iter(f"{SVG}rect"))
    assert len(bars) == 2  # no bar without a figure
    assert float(bars[0].get("width")) > float(bars[1].get("width"))
    assert bars[1].get("fill") != bars[0].get("fill")  # the small sample is pale
    labels = texts(vi)
    assert "Mục tiêu 82,50%" in labels
    assert "91,26" in labels and "66,08 (mẫu nhỏ)" in labels and "—" in labels
    target = next(vi.iter(f"{SVG}line"))
    assert target.get("stroke-dasharray")
    en = texts(parsed(ranking_svg(ROWS, "en", 80)))
    assert "Target 80%" in en and "91.26" in en and "66.08 (small sample)" in en


def test_hostile_names_stay_text():
    rows = [Row(HOSTILE, HOSTILE, 50.0, 40, True)]
    points = [Point(HOSTILE, 50.0, 40, True)]
    for svg in (ranking_svg(rows, "vi", 80), trend_svg(points, "en", title=HOSTILE)):
        root = parsed(svg)  # no injected element, no broken attribute
        assert {element.tag for element in root.iter()} <= {
            f"{SVG}{tag}"
            for tag in ("svg", "title", "desc", "g", "text", "rect", "line", "polyline", "circle")
        }
        assert "<script" not in svg and "\x00" not in svg
        joined = " ".join(root.itertext())
        assert '<script>alert("x")</script>' in joined  # shown as the text it is
    root = parsed(trend_svg(points, "en", title=HOSTILE))
    assert root.get("aria-label").startswith('<script>alert("x")</script>')


def test_escape_handles_quotes_and_characters_xml_cannot_hold():
    assert escape("a\"b'c<d>&") == "a&quot;b&#x27;c&lt;d&gt;&amp;"
    assert escape("x\x00\x08y\ufffe") == "xy"
    assert escape("Xa\u0303") == "Xã"  # NFC


def test_empty_inputs_still_draw():
    assert "chưa có dữ liệu" in parsed(trend_svg([], "vi")).find(f"{SVG}desc").text
    assert parsed(ranking_svg([], "en", 80)).find(f"{SVG}desc").text.startswith("Target 80%")


def test_values_no_chart_can_place_are_gaps():
    odd = [Point("a", float("nan"), 40, True), Point("b", float("inf"), 40, True)]
    root = parsed(trend_svg(odd, "vi"))
    assert root.findall(f"{SVG}circle") == [] and root.findall(f"{SVG}polyline") == []
    svg = ranking_svg([Row("A", "x", float("nan"), 40, True)], "en", float("nan"))
    assert "nan" not in svg.lower() and list(parsed(svg).iter(f"{SVG}rect")) == []
