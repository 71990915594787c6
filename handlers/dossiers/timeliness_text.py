"""The on-time figures as `bot dossiers timeliness` prints them: a table, or JSON.

The JSON is a published contract (`timeliness.schema.json` beside this module): the
reports API answers exactly these bytes' content, so change both together, adding
fields only. The table is for a person at a terminal, in Vietnamese or English.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.i18n import count, number, shipped
from handlers.dossiers.timeliness import Timeliness, UnitTimeliness

SCHEMA_PATH = Path(__file__).with_name("timeliness.schema.json")
FORMATS = ("table", "json")
# The figures' columns in print order: (locale key after `timeliness_`, field; None for
# the on-time share), shared by the table here and the dashboard's exports.
COLUMNS = (
    ("finished", "finished"),
    ("on_time", "finished_on_time"),
    ("share", None),
    ("overdue", "overdue_now"),
    ("sent", "apologies_sent"),
    ("undelivered", "apologies_undelivered"),
    ("owed", "apologies_owed"),
    ("escalations", "escalations"),
)


def to_json(figures: Timeliness) -> dict[str, Any]:
    return figures.to_dict()


def render_json(figures: Timeliness) -> str:
    return json.dumps(to_json(figures), ensure_ascii=False, indent=2) + "\n"


def share_text(unit: UnitTimeliness, lang: str) -> str:
    share = unit.on_time_share
    return "—" if share is None else f"{number(share * 100, lang, decimals=1)}%"


def render_table(figures: Timeliness, lang: str = "vi", width: int = 40) -> str:
    """Units ranked as QĐ 766 ranks them, the whole selection's total last."""
    words = shipped()
    h = lambda key: words(lang, f"timeliness_{key}")  # noqa: E731
    period = figures.period
    lines = [
        h("title"),
        f"{h('period')}: {period.start:%d/%m/%Y} – {period.end:%d/%m/%Y}"
        + (f" · {h('as_of')} {figures.today:%d/%m/%Y}" if figures.today else ""),
        "",
    ]
    head = [h("unit").ljust(width)] + [h(key).rjust(max(len(h(key)), 8)) for key, _ in COLUMNS]
    lines.append("  ".join(head))

    def row(label: str, unit: UnitTimeliness) -> str:
        cells = [label[:width].ljust(width)]
        for (_, field), title in zip(COLUMNS, head[1:], strict=True):
            text = share_text(unit, lang) if field is None else count(getattr(unit, field), lang)
            cells.append(text.rjust(len(title)))
        return "  ".join(cells)

    for rank, unit in enumerate(figures.units, start=1):
        lines.append(row(f"{rank}. {unit.agency_code} {unit.agency_name}", unit))
    if not figures.units:
        lines.append(h("none"))
    lines.append(row(h("total"), figures.total))
    if figures.total.finished_undated:
        lines.append(h("undated").format(count=count(figures.total.finished_undated, lang)))
    lines += ["", h("rule")]
    return "\n".join(lines) + "\n"
