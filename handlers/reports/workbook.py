"""Reports as an Excel workbook (sheets: overview, factors, criteria, by <grouping>,
drop-off).

`workbook_of` describes the sheets (cheap: the report's rows as plain values);
`bot.rendering.workbook` writes the file after the commit (and for
`python -m bot report --format xlsx`); this room never imports openpyxl.
"""

from __future__ import annotations

from typing import Any

from bot.i18n import day
from handlers.messages import COUNT, PERCENT, Sheet, WorkbookAttachment
from handlers.reports.build import Report
from handlers.reports.dropoff import BEFORE_QUESTIONS
from handlers.reports.render import criterion_name, factor_name, flags, heading

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
    "dropoff": ("Bỏ dở", "Drop-off"),
    "started": (
        "Phiên chat bắt đầu (kết thúc trong kỳ)",
        "Chat sessions started (ended in period)",
    ),
    "completed": ("Phiên chat hoàn thành", "Chat sessions completed"),
    "completion rate": ("Tỷ lệ hoàn thành (%)", "Completion rate (%)"),
    "completion 95% CI low": ("Tỷ lệ hoàn thành: KTC 95% dưới", "Completion 95% CI low"),
    "completion 95% CI high": ("Tỷ lệ hoàn thành: KTC 95% trên", "Completion 95% CI high"),
    "expired": ("Hết hạn giữa chừng", "Expired half-way"),
    "cancelled": ("Tự dừng", "Cancelled"),
    "restarted": ("Làm lại từ đầu", "Started again"),
    "refused": ("Không được nhận", "Refused"),
    "other": ("Khác", "Other"),
    "number": ("Câu số", "Number"),
    "question": ("Câu hỏi", "Question"),
    "reached": ("Đến câu này", "Reached"),
    "left": ("Bỏ dở tại câu", "Left here"),
    "left rate": ("Tỷ lệ bỏ dở (%)", "Left (%)"),
    "before questions": ("Trước câu hỏi đầu tiên", "Before the first question"),
}


def title(key: str, lang: str) -> str:
    vi, en = TITLES[key]
    return en if lang == "en" else vi


def _sheet(name: str, headers: list[str], rows: list[list[Any]], *formats) -> Sheet:
    """A sheet; each of `formats` is (columns, number format)."""
    return Sheet(
        name,
        tuple(headers),
        tuple(tuple(row) for row in rows),
        tuple((column, fmt) for columns, fmt in formats for column in columns),
    )


def workbook_of(
    report: Report, lang: str = "vi", file_name: str = "", fallback: str = ""
) -> WorkbookAttachment:
    """The report's workbook as a description: every sheet's rows, in `lang`."""
    q = report.questionnaire
    total = report.total.indices
    overall = total.overall
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
        ["started", report.dropoff.started],
        ["completed", report.dropoff.completed],
        ["completion rate", report.dropoff.completion_rate],
        ["completion 95% CI low", report.dropoff.ci_low],
        ["completion 95% CI high", report.dropoff.ci_high],
    ]
    sheets = [
        Sheet(
            t("overview"),
            (t("item"), t("value")),
            tuple((t(k), v) for k, v in overview),
            typed_column=1,
        )
    ]
    factors = _sheet(
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
        ([2, 3, 4, 5, 9, 10], PERCENT),
        ([6, 7], COUNT),
    )
    criteria = _sheet(
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
        ([3, 4, 5, 6, 10, 11], PERCENT),
        ([7, 8, 9], COUNT),
    )

    factor_ids = [f.factor for f in total.factors]
    grouping = report.grouping or ("agency",)
    group_columns = [
        column
        for name in report.grouping
        for column in (f"{t(name)}: {t('code').lower()}", f"{t(name)}: {t('name').lower()}")
    ]
    first = len(group_columns) + 2
    groups = _sheet(
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
        (list(range(first, first + 5 + len(factor_ids))), PERCENT),
        ([len(group_columns)], COUNT),
    )
    return WorkbookAttachment(
        (*sheets, factors, criteria, groups, _dropoff_sheet(report, lang)), file_name, fallback
    )


def _dropoff_sheet(report: Report, lang: str) -> Sheet:
    """The curve by question, then those left before any question (no number): counts,
    and the share of those who reached a question who left there."""
    t = lambda key: title(key, lang)  # noqa: E731
    dropoff = report.dropoff
    rows: list[list[Any]] = [
        [
            step.number,
            step.question_id,
            criterion_name(report.questionnaire, step.question_id, lang),
            step.reached,
            step.left_total,
            step.left["expired"],
            step.left["cancelled"],
            step.left["other"],
            step.rate,
        ]
        for step in dropoff.steps
    ]
    rows += [
        [None, where, f"{t('before questions')}: {heading(lang, f'phase_{where}')}", None]
        + [dropoff.before_questions[where], None, None, None, None]
        for where in BEFORE_QUESTIONS
        if dropoff.before_questions[where]
    ]
    headers = ["number", "code", "question", "reached", "left", "expired", "cancelled", "other"]
    return _sheet(
        t("dropoff"),
        [*(t(key) for key in headers), t("left rate")],
        rows,
        ([8], PERCENT),
        ([3, 4, 5, 6, 7], COUNT),
    )
