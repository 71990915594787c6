"""Reports as text for people (a terminal table) and as JSON and CSV for machines.

Names of factors and criteria come from the questionnaire in the chosen language;
the few headings are in bot/locales (`report_…`), like every other text people read.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from typing import Any

from bot.i18n import INDEX_DECIMALS, count, day, number, shipped
from bot.questionnaire import Questionnaire
from handlers.reports.build import Report, ReportGroup
from handlers.reports.dropoff import BEFORE_QUESTIONS, LEFT, OUTCOMES, Dropoff
from scoring import GroupIndices


def heading(lang: str, key: str) -> str:
    """A report heading (`report_<key>` in bot/locales), Vietnamese for an unknown language."""
    return shipped()(lang, f"report_{key}")


def target_text(target: float, lang: str) -> str:
    """The target as written in a plan: "80%", "82,5%"."""
    decimals = 0 if float(target).is_integer() else INDEX_DECIMALS
    return f"{number(target, lang, decimals=decimals)}%"


def _pick(texts: Any, lang: str) -> str:
    text = texts.get(lang) or next(iter(texts.values()))
    return unicodedata.normalize("NFC", text)


def factor_name(questionnaire: Questionnaire, factor_id: str, lang: str) -> str:
    return _pick(questionnaire.factor(factor_id).title, lang)


def criterion_name(questionnaire: Questionnaire, item_id: str, lang: str) -> str:
    return _pick(questionnaire.question(item_id).text, lang)


def flags(indices: GroupIndices) -> list[str]:
    """Machine-readable warnings: small_sample, below_target, missing:<factor>."""
    found = []
    if not indices.reliable:
        found.append("small_sample")
    if indices.overall.comparison.met_target is False:
        found.append("below_target")
    found += [f"missing:{factor}" for factor in indices.overall.factors_missing]
    return found


def _flag_text(indices: GroupIndices, lang: str) -> str:
    words = []
    for flag in flags(indices):
        name, _, factor = flag.partition(":")
        words.append(f"{heading(lang, name)} {factor}".strip())
    return ", ".join(words)


# --------------------------------------------------------------------------- JSON


def _group_json(group: ReportGroup, report: Report, lang: str) -> dict[str, Any]:
    data = group.indices.to_dict()
    for factor in data["factors"]:
        factor["name"] = factor_name(report.questionnaire, factor["factor"], lang)
        used = set(factor.pop("criteria"))
        every = [c.id for c in report.questionnaire.criteria(factor["factor"])]
        factor["criteria"] = every
        factor["criteria_without_data"] = [item for item in every if item not in used]
    for criterion in data["criteria"]:
        criterion["name"] = criterion_name(report.questionnaire, criterion["item_id"], lang)
        criterion["has_data"] = criterion["valid_n"] > 0
    return {
        "key": dict(group.key),
        "names": dict(group.names),
        "previous_respondents": None if group.previous is None else group.previous.respondents,
        "flags": flags(group.indices),
        **data,
    }


def to_json(report: Report, lang: str = "vi") -> dict[str, Any]:
    """Everything a machine needs: indices, intervals, n, flags and the rule used.

    The shape is a published contract (`report.schema.json` beside this file): the
    province's operations centre reads it. Change both together, adding fields only.
    """
    return {
        "questionnaire": {
            "id": report.questionnaire.id,
            "title": _pick(report.questionnaire.title, lang),
        },
        "filters": report.filters.to_dict(),
        "previous_period": {
            "period": report.previous_period.label,
            "from": report.previous_period.start.isoformat(),
            "to": report.previous_period.end.isoformat(),
        },
        "rule": report.rule.value,
        "target": report.target,
        "min_sample": report.min_sample,
        "grouping": list(report.grouping),
        "total": _group_json(report.total, report, lang),
        "groups": [_group_json(group, report, lang) for group in report.groups],
        "dropoff": _dropoff_json(report, lang),
    }


def _dropoff_json(report: Report, lang: str) -> dict[str, Any]:
    data = report.dropoff.to_dict()
    for step in data["steps"]:
        step["name"] = criterion_name(report.questionnaire, step["question_id"], lang)
    return data


def render_json(report: Report, lang: str = "vi") -> str:
    return json.dumps(to_json(report, lang), ensure_ascii=False, indent=2) + "\n"


# --------------------------------------------------------------------------- CSV

CSV_COLUMNS = [
    "scope",
    "id",
    "name",
    "index",
    "ci_low",
    "ci_high",
    "mean_score",
    "valid_n",
    "respondents",
    "change",
    "to_target",
    "met_target",
    "reliable",
    "count",
]


def _rows(group: ReportGroup, report: Report, lang: str) -> list[dict[str, Any]]:
    indices = group.indices
    overall = indices.overall.to_dict()
    rows = [
        {
            "scope": "overall",
            "id": "SIPAS",
            "name": "SIPAS",
            **overall,
            "respondents": indices.respondents,
            "reliable": indices.reliable,
        }
    ]
    for factor in indices.factors:
        data = factor.to_dict()
        data["name"] = factor_name(report.questionnaire, factor.factor, lang)
        rows.append({"scope": "factor", "id": factor.factor, **data})
    for criterion in indices.criteria:
        data = criterion.to_dict()
        data["name"] = criterion_name(report.questionnaire, criterion.item_id, lang)
        rows.append({"scope": "criterion", "id": criterion.item_id, **data, "respondents": None})
    return rows


def render_csv(report: Report, lang: str = "vi") -> str:
    """One row per group and index (overall, factor, criterion); the total has empty
    group columns. Numbers are plain (dot decimal) for any spreadsheet or script."""
    group_columns = [f"{name}{suffix}" for name in report.grouping for suffix in ("", "_name")]
    output = io.StringIO()
    writer = csv.DictWriter(
        output, [*group_columns, *CSV_COLUMNS], extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for group in (report.total, *report.groups):
        prefix = {}
        for name in report.grouping:
            prefix[name] = group.key.get(name, "")
            prefix[f"{name}_name"] = group.names.get(name, "")
        rows = _rows(group, report, lang)
        if group is report.total:
            rows += _dropoff_rows(report, lang)
        for row in rows:
            writer.writerow({**prefix, **{k: "" if v is None else v for k, v in row.items()}})
    return output.getvalue()


def _dropoff_rows(report: Report, lang: str) -> list[dict[str, Any]]:
    """The total's drop-off, where a period had chat sessions: a `completion` row (index =
    completion rate of `valid_n` started, `count` completed) and a `dropoff` row per
    question (index = share of the `valid_n` that reached it who left there, `count`)."""
    dropoff = report.dropoff
    if not dropoff.started:
        return []
    data = dropoff.to_dict()
    rows = [
        {
            "scope": "completion",
            "id": "completed",
            "name": heading(lang, "completion_rate"),
            "index": data["completion_rate"],
            "ci_low": data["ci_low"],
            "ci_high": data["ci_high"],
            "valid_n": dropoff.started,
            "reliable": dropoff.reliable,
            "count": dropoff.completed,
        }
    ]
    for step in data["steps"]:
        rows.append(
            {
                "scope": "dropoff",
                "id": step["question_id"],
                "name": criterion_name(report.questionnaire, step["question_id"], lang),
                "index": step["rate"],
                "valid_n": step["reached"],
                "reliable": step["rate"] is not None,
                "count": step["left"],
            }
        )
    return rows


# --------------------------------------------------------------------------- table


def _ci(low: float | None, high: float | None, lang: str) -> str:
    return "—" if low is None or high is None else f"{number(low, lang)}–{number(high, lang)}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(headers: list[str], rows: list[list[str]], text_last: bool = False) -> list[str]:
    """Columns padded to their widest cell; text (the first, and the last if `text_last`)
    left-aligned, numbers right-aligned."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            str(cell).ljust(width)
            if index == 0 or (text_last and index == len(widths) - 1)
            else str(cell).rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(headers), "  ".join("-" * width for width in widths), *map(line, rows)]


def render_table(report: Report, lang: str = "vi", width: int = 48) -> str:
    """A readable terminal report: overview, factors, criteria, then the groups."""
    h = lambda key: heading(lang, key)  # noqa: E731
    num = lambda value, sign=False: number(value, lang, sign=sign)  # noqa: E731
    n = lambda value: "—" if value is None else count(value, lang)  # noqa: E731
    total = report.total.indices
    filters = report.filters
    chosen = [
        f"{name}={','.join(values)}"
        for name, values in (
            ("agency", filters.agencies),
            ("service", filters.services),
            ("field", filters.fields),
        )
        if values
    ]
    chosen += [
        f"{name}={value}"
        for name, value in (("level", filters.level), ("channel", filters.channel_kind))
        if value
    ]
    if filters.merge_successors:
        chosen.append("merge_successors")
    previous_n = report.total.previous.respondents if report.total.previous else 0
    overall = total.overall
    lines = [
        f"{h('title')} — {_cut(_pick(report.questionnaire.title, lang), 60)} "
        f"({report.questionnaire.id})",
        f"{h('period')}: {filters.period.label} "
        f"({day(filters.period.start)} – {day(filters.period.end)}); "
        f"{h('previous')}: {report.previous_period.label}",
        f"{h('rule')}: {h(report.rule.value)}",
        f"{h('target')}: {target_text(report.target, lang)}; "
        f"{h('filters')}: {', '.join(chosen) or '—'}",
        f"{h('respondents')}: {n(total.respondents)} ({h('previous')}: {n(previous_n)})",
        "",
        f"{h('overall')}: {num(overall.index)}"
        f"  [{h('ci')} {_ci(overall.ci_low, overall.ci_high, lang)}]"
        f"  {h('change')} {num(overall.comparison.change, sign=True)}"
        f"  {h('to_target')} {num(overall.comparison.to_target, sign=True)}"
        + (f"  ({_flag_text(total, lang)})" if flags(total) else ""),
        "",
    ]
    lines += _table(
        [
            h("factor"),
            h("index"),
            h("ci"),
            h("valid"),
            h("respondents"),
            h("change"),
            h("to_target"),
        ],
        [
            [
                _cut(f"{f.factor} {factor_name(report.questionnaire, f.factor, lang)}", width),
                num(f.index),
                _ci(f.ci_low, f.ci_high, lang),
                n(f.valid_n),
                n(f.respondents),
                num(f.comparison.change, sign=True),
                num(f.comparison.to_target, sign=True),
            ]
            for f in total.factors
        ],
    )
    lines.append("")
    lines += _table(
        [h("criterion"), h("index"), h("ci"), h("valid"), h("change")],
        [
            [
                _cut(f"{c.item_id} {criterion_name(report.questionnaire, c.item_id, lang)}", width),
                num(c.index),
                _ci(c.ci_low, c.ci_high, lang),
                n(c.valid_n),
                num(c.comparison.change, sign=True),
            ]
            for c in total.criteria
        ],
    )
    if report.grouping:
        factor_ids = [f.factor for f in total.factors]
        lines += ["", f"{h('by')} {', '.join(h(name).lower() for name in report.grouping)}:"]
        lines += _table(
            [
                h("group"),
                h("respondents"),
                h("overall"),
                h("ci"),
                *factor_ids,
                h("change"),
                h("flags"),
            ],
            [
                [
                    _cut(group.label, width),
                    n(group.indices.respondents),
                    num(group.indices.overall.index),
                    _ci(group.indices.overall.ci_low, group.indices.overall.ci_high, lang),
                    *(num(f.index) for f in group.indices.factors),
                    num(group.indices.overall.comparison.change, sign=True),
                    _flag_text(group.indices, lang),
                ]
                for group in report.groups
            ],
            text_last=True,
        )
        if not report.groups:
            lines.append(h("none"))
    lines += ["", *dropoff_table(report.dropoff, report.questionnaire, lang, width)]
    return "\n".join(lines) + "\n"


def dropoff_table(dropoff: Dropoff, questionnaire: Questionnaire, lang: str, width: int = 48):
    """The drop-off section: outcomes, the completion rate, and the curve by question."""
    h = lambda key: heading(lang, key)  # noqa: E731
    n = lambda value: count(value, lang)  # noqa: E731
    if not dropoff.started:
        return [f"{h('dropoff')}: {h('dropoff_none')}"]
    rate = (
        f"{number(dropoff.completion_rate, lang)}%"
        f" [{h('ci')} {_ci(dropoff.ci_low, dropoff.ci_high, lang)}]"
        if dropoff.completion_rate is not None
        else h("small_sample")
    )
    outcomes = [
        f"{h(name)} {n(dropoff.outcomes[name])}" for name in OUTCOMES[1:] if dropoff.outcomes[name]
    ]
    lines = [
        f"{h('dropoff')}:",
        f"{h('started')} {n(dropoff.started)}; {h('completed')} {n(dropoff.completed)}"
        f"; {h('completion_rate').lower()} {rate}",
    ]
    if outcomes:
        lines.append("; ".join(outcomes))
    before = [
        f"{h(f'phase_{where}')} {n(dropoff.before_questions[where])}"
        for where in BEFORE_QUESTIONS
        if dropoff.before_questions[where]
    ]
    if before:
        lines.append(f"{h('before_questions')}: {'; '.join(before)}")
    lines.append("")
    lines += _table(
        [h("question"), h("reached"), h("left"), *(h(name) for name in LEFT), h("left_rate")],
        [
            [
                _cut(
                    f"{step.number}. {step.question_id} "
                    f"{criterion_name(questionnaire, step.question_id, lang)}",
                    width,
                ),
                n(step.reached),
                n(step.left_total),
                *(n(step.left[name]) for name in LEFT),
                "—" if step.rate is None else f"{number(step.rate, lang, decimals=1)}%",
            ]
            for step in dropoff.steps
        ],
    )
    return lines
