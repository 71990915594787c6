"""`python -m bot report …`: SIPAS indices of completed responses, as text or files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.common import UsageError
from bot.clock import local_today, utc_now
from bot.database import Database
from bot.questionnaire import load_questionnaires
from bot.settings import LANGUAGES, Settings
from handlers.reports import (
    GROUPINGS,
    QUARTER,
    Period,
    ReportError,
    ReportFilters,
    build_report,
    chart_of,
    render_csv,
    render_json,
    render_table,
    workbook_of,
)

FORMATS = ("table", "json", "csv", "xlsx", "png")
BINARY_FORMATS = ("xlsx", "png")


def _period(args: argparse.Namespace, settings: Settings) -> Period:
    given = [name for name in ("period", "month", "quarter", "year") if getattr(args, name)] + (
        ["from/to"] if args.date_from or args.date_to else []
    )
    if len(given) > 1:
        raise UsageError(f"give one period, not {' and '.join(given)}")
    try:
        if args.date_from or args.date_to:
            if not (args.date_from and args.date_to):
                raise ValueError("--from and --to go together")
            return Period.parse(f"{args.date_from}..{args.date_to}")
        text = args.period or args.month or args.quarter or args.year
        if text:
            return Period.parse(text)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return Period.containing(local_today(utc_now(), settings), QUARTER)


def _grouping(text: str) -> tuple[str, ...]:
    if text.strip().lower() in ("", "none", "-"):
        return ()
    names = tuple(name.strip().lower() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in GROUPINGS]
    if unknown:
        raise UsageError(
            f"--group-by: unknown {', '.join(unknown)} (choose from {', '.join(GROUPINGS)})"
        )
    return names


async def cmd_report(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    if args.format in BINARY_FORMATS and not args.output:
        raise UsageError(f"--format {args.format} needs --output FILE")
    filters = ReportFilters(
        questionnaire=args.questionnaire or settings.survey.questionnaire,
        period=_period(args, settings),
        agencies=tuple(args.agency),
        merge_successors=args.merge_successors,
        services=tuple(args.service),
        fields=tuple(args.field),
        level=args.level,
        channel_kind=args.channel,
    )
    grouping = _grouping(args.group_by)
    async with database.transaction() as session:
        try:
            report = await build_report(
                session, load_questionnaires(), filters, grouping, settings.scoring
            )
        except ReportError as error:
            raise UsageError(str(error)) from None
    output = Path(args.output) if args.output else None
    if args.format in BINARY_FORMATS:
        from bot.rendering import render  # drawing libraries load only for these formats

        describe = workbook_of if args.format == "xlsx" else chart_of
        output.write_bytes(render(describe(report, args.lang, output.name)))
    else:
        text = {"table": render_table, "json": render_json, "csv": render_csv}[args.format](
            report, args.lang
        )
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text, encoding="utf-8")
    if output is not None:
        print(f"report written to {output}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    report = subparsers.add_parser(
        "report",
        help="SIPAS indices of completed responses",
        description="Score completed responses: SIPAS, factor and criterion indices with "
        "95%% intervals, against the previous period and the target. Without a period: "
        "the current quarter.",
    )
    period = report.add_argument_group("period (one of)")
    period.add_argument("--period", help="2025-07, 2025-Q3, 2025 or 2025-01-15..2025-03-20")
    period.add_argument("--month", help="e.g. 2025-07")
    period.add_argument("--quarter", help="e.g. 2025-Q3")
    period.add_argument("--year", help="e.g. 2025")
    period.add_argument("--from", dest="date_from", help="first day, YYYY-MM-DD")
    period.add_argument("--to", dest="date_to", help="last day, YYYY-MM-DD")
    chosen = report.add_argument_group("filters")
    chosen.add_argument("--agency", action="append", default=[], help="agency code (repeatable)")
    chosen.add_argument(
        "--merge-successors",
        action="store_true",
        help="count agencies merged into another under their successor",
    )
    chosen.add_argument("--service", action="append", default=[], help="service code")
    chosen.add_argument("--field", action="append", default=[], help="service field (lĩnh vực)")
    chosen.add_argument("--level", help="province, commune or district")
    chosen.add_argument("--channel", help="channel kind: telegram, zalo, paper, web, …")
    chosen.add_argument("--questionnaire", help="questionnaire id (default: SURVEY_QUESTIONNAIRE)")
    report.add_argument(
        "--group-by",
        default="agency",
        help=f"comma-separated: {', '.join(GROUPINGS)}; or none (default: agency)",
    )
    report.add_argument("--format", choices=FORMATS, default="table")
    report.add_argument("--output", help="write to this file (needed for xlsx and png)")
    report.add_argument("--lang", choices=LANGUAGES, default="vi", help="names and headings")
    report.set_defaults(func=cmd_report)
