"""Ranking rules on hand-made rows (no database): ties, small samples, top and bottom
five, the units at 90 or above, block order and names."""

from __future__ import annotations

from handlers.dashboard import UnitRow, block_name
from handlers.dashboard.ranking import blocks_of, ranked, top_and_bottom


def row(code: str, index: float | None, forms: int = 40, level: str = "province") -> UnitRow:
    return UnitRow(
        code, f"Đơn vị {code}", level, index, None, None, None, None, None, forms, 0,
        forms >= 30, (),
    )  # fmt: skip


def test_ties_at_the_shown_decimals_share_a_rank_then_code_order():
    order = ranked([row("B", 80.001), row("A", 79.996), row("C", 85.0), row("D", 70.0)])
    assert [(u.code, u.rank) for u in order] == [("C", 1), ("A", 2), ("B", 2), ("D", 4)]


def test_small_samples_and_missing_indices_are_listed_unranked():
    order = ranked([row("S", 100.0, forms=29), row("N", None), row("R", 50.0)])
    assert [(u.code, u.rank) for u in order] == [("R", 1), ("N", None), ("S", None)]
    top, bottom = top_and_bottom(order)
    assert [u.code for u in top] == ["R"] and bottom == ()


def test_top_and_bottom_five_never_overlap():
    twelve = ranked(row(f"U{i:02d}", 50.0 + i) for i in range(12))
    top, bottom = top_and_bottom(twelve)
    assert [u.code for u in top] == ["U11", "U10", "U09", "U08", "U07"]
    assert [u.code for u in bottom] == ["U00", "U01", "U02", "U03", "U04"]
    seven = ranked(row(f"U{i}", 50.0 + i) for i in range(7))
    top, bottom = top_and_bottom(seven)
    assert [u.code for u in bottom] == ["U0", "U1"]  # the two not already on top
    assert not {u.code for u in top} & {u.code for u in bottom}


def test_at_or_above_ninety_counts_ranked_units_as_shown():
    (block,) = blocks_of(
        [row("A", 90.0), row("B", 89.996), row("C", 89.994), row("D", 99.0, forms=3)], "vi"
    )
    assert block.at_or_above_high == 2  # A, and B shown as 90,00; not C; not D (3 forms)


def test_blocks_in_order_with_names():
    blocks = blocks_of(
        [
            row("Z", 70.0, level="zone"),
            row("M", 70.0, level="ministry"),
            row("X", 70.0, level="commune"),
            row("D", 70.0, level="district"),
            row("S", 70.0, level="province"),
        ],
        "en",
    )
    assert [b.level for b in blocks] == ["province", "commune", "district", "ministry", "zone"]
    assert blocks[0].name == "Provincial departments" and blocks[-1].name == "zone"
    assert block_name("commune", "vi") == "Xã, phường"
    assert block_name("commune", "fr") == "Xã, phường"  # an unknown language: Vietnamese
