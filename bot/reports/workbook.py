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

from bot.i18n import day
from bot.reports.build import Report
from bot.reports.render import criterion_name, factor_name, flags, heading

# Excel and LibreOffice write these with the reader's own separators: 66,08 and 1.539 on
# a Vietnamese system, 66.08 and 1,539 on an English one. The cells hold plain numbers.
PERCENT = "0.00"
COUNT = "#,##0"

# Column and row titles: (Vietnamese, English).
TITLES: dict[str, tuple[str, str]] = {
    "overview": ("Tổng quan", "Overview"),
    "factors": ("Yếu tố", "Factors"),
    "criteria": ("Tiêu chí", "Criteria"),
    "by": ("Theo", "By"),
    "item": ("Mục", "Item"),
    "value": ("Giá trị", "Value"),
    "questionnaire": ("Bộ câu hỏi", "Questionnaire"),
    "title": ("Tên phiếu", "Title"),
    "period": ("Kỳ báo cáo", "Period"),
    "from": ("Từ ngày", "From"),
    "to": ("Đến ngày", "To"),
    "previous period": ("Kỳ trước", "Previous period"),
    "rule": ("Cách tính", "Rule"),
    "target": ("Mục tiêu (%)", "Target (%)"),
    "min sample": ("Cỡ mẫu tối thiểu", "Minimum sample"),
    "agencies": ("Cơ quan", "Agencies"),
    "merge successors": ("Gộp cơ quan sáp nhập", "Merge successors"),
    "services": ("Thủ tục", "Services"),
    "fields": ("Lĩnh vực", "Fields"),
    "level": ("Cấp", "Level"),
    "channel": ("Kênh", "Channel"),
    "respondents": ("Số phiếu", "Responses"),
    "previous respondents": ("Số phiếu kỳ trước", "Previous responses"),
    "reliable": ("Đủ mẫu", "Reliable"),
    "SIPAS": ("SIPAS (%)", "SIPAS (%)"),
    "SIPAS 95% CI low": ("SIPAS: KTC 95% dưới", "SIPAS 95% CI low"),
    "SIPAS 95% CI high": ("SIPAS: KTC 95% trên", "SIPAS 95% CI high"),
    "change": ("Thay đổi (điểm)", "Change (points)"),
    "to target": ("So mục tiêu (điểm)", "To target (points)"),
    "met target": ("Đạt mục tiêu", "Met target"),
    "factors missing": ("Yếu tố thiếu dữ liệu", "Factors missing"),
    "flags": ("Ghi chú", "Flags"),
    "factor": ("Yếu tố", "Factor"),
    "criterion": ("Tiêu chí", "Criterion"),
    "name": ("Tên", "Name"),
    "index": ("Chỉ số (%)", "Index (%)"),
    "ci_low": ("KTC 95% dưới", "95% CI low"),
    "ci_high": ("KTC 95% trên", "95% CI high"),
    "mean_score": ("Điểm trung bình (1–5)", "Mean score (1–5)"),
    "valid_n": ("Số trả lời hợp lệ", "Valid answers"),
    "satisfied": ("Số hài lòng (4–5)", "Satisfied (4–5)"),
    "no_opinion": ("Không ý kiến", "No opinion"),
    "code": ("Mã", "Code"),
    "agency": ("Cơ quan", "Agency"),
    "service": ("Thủ tục", "Service"),
    "field": ("Lĩnh vực", "Field"),
    "month": ("Tháng", "Month"),
    "quarter": ("Quý", "Quarter"),
}


def title(key: str, lang: str) -> str:
    vi, en = TITLES[key]
    return en if lang == "en" else vi


def _sheet(workbook: Workbook, name: str, headers: list[str], rows: list[list[Any]]):
    sheet = workbook.create_sheet(name[:31])
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
    t = lambda key: title(key, lang)  # noqa: E731

    filters = report.filters
    overview = [
        ["questionnaire", q.id],
        ["title", q.title.get(lang) or q.title["vi"]],
        ["period", filters.period.label],
        ["from", day(filters.period.start)],
        ["to", day(filters.period.end)],
        ["previous period", report.previous_period.label],
        ["rule", heading(lang, report.rule.value)],
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
    sheet = _sheet(
        workbook, t("overview"), [t("item"), t("value")], [[t(k), v] for k, v in overview]
    )
    for row in sheet.iter_rows(min_row=2):
        if isinstance(row[1].value, float):
            row[1].number_format = PERCENT
        elif isinstance(row[1].value, int) and not isinstance(row[1].value, bool):
            row[1].number_format = COUNT

    sheet = _sheet(
        workbook,
        t("factors"),
        [
            t(key)
            for key in (
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
                "to target",
                "met target",
            )
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
    _format(sheet, [6, 7], COUNT)

    sheet = _sheet(
        workbook,
        t("criteria"),
        [
            t(key)
            for key in (
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
                "to target",
            )
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
    _format(sheet, [7, 8, 9], COUNT)

    factor_ids = [f.factor for f in total.factors]
    grouping = report.grouping or ("agency",)
    group_columns = [
        column
        for name in report.grouping
        for column in (f"{t(name)}: {t('code').lower()}", f"{t(name)}: {t('name').lower()}")
    ]
    sheet = _sheet(
        workbook,
        f"{t('by')} {' + '.join(t(name).lower() for name in grouping)}",
        [
            *group_columns,
            t("respondents"),
            t("reliable"),
            t("SIPAS"),
            t("ci_low"),
            t("ci_high"),
            t("change"),
            t("to target"),
            *factor_ids,
            t("flags"),
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
    _format(sheet, [len(group_columns)], COUNT)
    workbook.save(path)
