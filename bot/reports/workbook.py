"""Reports as an Excel workbook (sheets: overview, factors, criteria, by <grouping>).

Plain values with number formats and no formulas, so that LibreOffice and Excel open
it the same and nothing needs recalculating.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from bot.reports.build import Report
from bot.reports.render import criterion_name, factor_name, flags

PERCENT = "0.00"


def _sheet(workbook: Workbook, title: str, headers: list[str], rows: list[list[Any]]):
    sheet = workbook.create_sheet(title[:31])
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for index, header in enumerate(headers, start=1):
        values = [header, *(row[index - 1] for row in rows)]
        longest = max(len(str(v)) for v in values if v is not None)
        sheet.column_dimensions[get_column_letter(index)].width = min(max(10, longest + 2), 70)
    sheet.freeze_panes = "A2"
    return sheet


def _format(sheet, columns: list[int], number_format: str = PERCENT) -> None:
    for row in sheet.iter_rows(min_row=2):
        for column in columns:
            row[column].number_format = number_format


def write_workbook(report: Report, path: Path, lang: str = "vi") -> None:
    q = report.questionnaire
    total = report.total.indices
    overall = total.overall
    workbook = Workbook()
    workbook.remove(workbook.active)

    filters = report.filters
    overview = [
        ["questionnaire", q.id],
        ["title", q.title.get(lang) or q.title["vi"]],
        ["period", filters.period.label],
        ["from", filters.period.start.isoformat()],
        ["to", filters.period.end.isoformat()],
        ["previous period", report.previous_period.label],
        ["rule", report.rule.value],
        ["target", report.target],
        ["min sample", report.min_sample],
        ["agencies", ", ".join(filters.agencies)],
        ["merge successors", filters.merge_successors],
        ["services", ", ".join(filters.services)],
        ["fields", ", ".join(filters.fields)],
        ["level", filters.level or ""],
        ["channel", filters.channel_kind or ""],
        ["respondents", total.respondents],
        [
            "previous respondents",
            report.total.previous.respondents if report.total.previous else 0,
        ],
        ["reliable", total.reliable],
        ["SIPAS", overall.index],
        ["SIPAS 95% CI low", overall.ci_low],
        ["SIPAS 95% CI high", overall.ci_high],
        ["change", overall.comparison.change],
        ["to target", overall.comparison.to_target],
        ["met target", overall.comparison.met_target],
        ["factors missing", ", ".join(overall.factors_missing)],
        ["flags", ", ".join(flags(total))],
    ]
    sheet = _sheet(workbook, "overview", ["item", "value"], overview)
    for row in sheet.iter_rows(min_row=2):
        if isinstance(row[1].value, float):
            row[1].number_format = PERCENT

    sheet = _sheet(
        workbook,
        "factors",
        [
            "factor",
            "name",
            "index",
            "ci_low",
            "ci_high",
            "mean_score",
            "valid_n",
            "respondents",
            "reliable",
            "change",
            "to_target",
            "met_target",
        ],
        [
            [
                f.factor,
                factor_name(q, f.factor, lang),
                f.index,
                f.ci_low,
                f.ci_high,
                f.mean_score,
                f.valid_n,
                f.respondents,
                f.reliable,
                f.comparison.change,
                f.comparison.to_target,
                f.comparison.met_target,
            ]
            for f in total.factors
        ],
    )
    _format(sheet, [2, 3, 4, 5, 9, 10])

    sheet = _sheet(
        workbook,
        "criteria",
        [
            "criterion",
            "factor",
            "name",
            "index",
            "ci_low",
            "ci_high",
            "mean_score",
            "valid_n",
            "satisfied",
            "no_opinion",
            "change",
            "to_target",
        ],
        [
            [
                c.item_id,
                c.factor,
                criterion_name(q, c.item_id, lang),
                c.index,
                c.ci_low,
                c.ci_high,
                c.mean_score,
                c.valid_n,
                c.satisfied,
                c.no_opinion,
                c.comparison.change,
                c.comparison.to_target,
            ]
            for c in total.criteria
        ],
    )
    _format(sheet, [3, 4, 5, 6, 10, 11])

    factor_ids = [f.factor for f in total.factors]
    group_columns = [column for name in report.grouping for column in (name, f"{name} name")]
    sheet = _sheet(
        workbook,
        f"by {'+'.join(report.grouping) or 'agency'}",
        [
            *group_columns,
            "respondents",
            "reliable",
            "SIPAS",
            "ci_low",
            "ci_high",
            "change",
            "to_target",
            *factor_ids,
            "flags",
        ],
        [
            [
                *(v for name in report.grouping for v in (group.key[name], group.names[name])),
                group.indices.respondents,
                group.indices.reliable,
                group.indices.overall.index,
                group.indices.overall.ci_low,
                group.indices.overall.ci_high,
                group.indices.overall.comparison.change,
                group.indices.overall.comparison.to_target,
                *(f.index for f in group.indices.factors),
                ", ".join(flags(group.indices)),
            ]
            for group in report.groups
        ],
    )
    first = len(group_columns) + 2
    _format(sheet, list(range(first, first + 5 + len(factor_ids))))
    workbook.save(path)
