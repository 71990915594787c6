"""`python -m bot report …` and `python -m bot responses import|rebuild-rollups`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.clock import local_today, utc_now
from bot.database import Database
from bot.questionnaire import load_questionnaires
from bot.settings import LANGUAGES, Settings
from bot.tabular import ENCODINGS, LazyHelp, TableError, print_import_report
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
from handlers.survey.store.rollups import rebuild_rollups

FORMATS = ("table", "json", "csv", "xlsx", "png")
BINARY_FORMATS = ("xlsx", "png")


def _usage(message: str) -> Exception:
    from bot.cli import UsageError  # bot.cli imports this module while building its parser

    return UsageError(message)


def _period(args: argparse.Namespace, settings: Settings) -> Period:
    given = [name for name in ("period", "month", "quarter", "year") if getattr(args, name)] + (
        ["from/to"] if args.date_from or args.date_to else []
    )
    if len(given) > 1:
        raise _usage(f"give one period, not {' and '.join(given)}")
    try:
        if args.date_from or args.date_to:
            if not (args.date_from and args.date_to):
                raise ValueError("--from and --to go together")
            return Period.parse(f"{args.date_from}..{args.date_to}")
        text = args.period or args.month or args.quarter or args.year
        if text:
            return Period.parse(text)
    except ValueError as error:
        raise _usage(str(error)) from None
    return Period.containing(local_today(utc_now(), settings), QUARTER)


def _grouping(text: str) -> tuple[str, ...]:
    if text.strip().lower() in ("", "none", "-"):
        return ()
    names = tuple(name.strip().lower() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in GROUPINGS]
    if unknown:
        raise _usage(
            f"--group-by: unknown {', '.join(unknown)} (choose from {', '.join(GROUPINGS)})"
        )
    return names


async def cmd_report(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    if args.format in BINARY_FORMATS and not args.output:
        raise _usage(f"--format {args.format} needs --output FILE")
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
            raise _usage(str(error)) from None
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


async def cmd_responses_import(args, settings: Settings, database: Database) -> int:
    from handlers.survey.forms_import import import_responses

    path = Path(args.file)
    if not path.is_file():  # noqa: ASYNC240 - a command line, nothing else waits on it
        raise _usage(f"{path}: no such file")

    def progress(rows: int) -> None:
        print(f"{path.name}: {rows:,} rows read", file=sys.stderr, flush=True)

    try:
        report = await import_responses(
            database,
            path,
            load_questionnaires(),
            args.questionnaire or settings.survey.questionnaire,
            channel_kind=args.channel,
            progress=progress,
            encoding=args.encoding,
        )
    except (TableError, ValueError) as error:
        raise _usage(str(error)) from None
    return print_import_report(report, path)


async def cmd_responses_template(args, settings: Settings, database: Database) -> int:
    from sqlalchemy import select

    from bot.models import Agency, Service
    from bot.rendering.forms_template import write_template

    questionnaires = load_questionnaires()
    questionnaire_id = args.questionnaire or settings.survey.questionnaire
    if questionnaire_id not in questionnaires:
        known = ", ".join(sorted(questionnaires))
        raise _usage(f"unknown questionnaire {questionnaire_id} (one of: {known})")
    output = Path(args.output or f"mau-phieu-{questionnaire_id}.xlsx")
    if output.suffix.lower() != ".xlsx":
        raise _usage("--output must name an .xlsx file")
    async with database.transaction() as session:
        agencies = (
            await session.execute(select(Agency.code, Agency.name).order_by(Agency.code))
        ).all()
        services = (
            await session.execute(select(Service.code, Service.name).order_by(Service.code))
        ).all()
    write_template(
        questionnaires[questionnaire_id],
        [tuple(row) for row in agencies],
        [tuple(row) for row in services],
        output,
        args.lang,
    )
    print(f"import template for {questionnaire_id} written to {output}")
    return 0


def import_columns_help() -> str:
    """Every column `responses import` reads, Vietnamese and English, for its --help."""
    from handlers.survey.forms_import import FORM_COLUMNS

    lines = ["columns (Vietnamese or English headers, accents and case ignored):"]
    for column in FORM_COLUMNS.values():
        need = "required" if column.required else "optional"
        lines.append(f"  {column.vi} / {column.en} ({need}): {column.meaning}")
    for questionnaire in load_questionnaires().values():
        lines.append(
            f"then, for {questionnaire.id}, one column per question: its id, a header "
            "starting with its id, or its short title; cells hold the value or its label:"
        )
        for question in questionnaire.questions:
            if question.column:
                lines.append(f"  {question.id}: {question.header('vi')} / {question.header('en')}")
            else:
                lines.append(f"  {_cut(question.header('vi'), 74)}")
    lines.append("`python -m bot responses template` writes a workbook with these columns.")
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


async def cmd_rebuild_rollups(args, settings: Settings, database: Database) -> int:
    async with database.transaction() as session:
        await rebuild_rollups(session, load_questionnaires())
    print("report rollups rebuilt from the stored answers")
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

    responses = subparsers.add_parser("responses", help="completed survey responses")
    actions = responses.add_subparsers(dest="action", required=True)
    importing = actions.add_parser(
        "import",
        help="store paper or web survey forms from a CSV or XLSX file",
        description="Store completed survey forms, one row per form. A bad row is reported "
        "with its number and skipped; the good rows are kept. A CSV may be UTF-8 (with or "
        "without BOM), UTF-16 or Windows-1258, as Excel writes them.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    importing.add_argument("-h", "--help", action=LazyHelp, epilog=import_columns_help)
    importing.add_argument("file")
    importing.add_argument(
        "--channel", choices=("paper", "web"), help="channel of rows without a channel column"
    )
    importing.add_argument("--questionnaire", help="for rows without a questionnaire column")
    importing.add_argument(
        "--encoding",
        choices=ENCODINGS,
        help="a CSV's encoding, when the guess (BOM, else UTF-8, else Windows-1258) is wrong",
    )
    importing.set_defaults(func=cmd_responses_import)
    template = actions.add_parser(
        "template",
        help="write the XLSX workbook that offices fill in for `responses import`",
        description="An import workbook for one questionnaire: a header per column (the "
        "criterion's id and text, its full wording as a comment), drop-downs with the "
        "accepted answers, the agency and service codes, and an example on the "
        "instructions sheet. A filled copy imports as it is.",
    )
    template.add_argument(
        "--questionnaire", help="questionnaire id (default: SURVEY_QUESTIONNAIRE)"
    )
    template.add_argument("--output", help="file to write (default: mau-phieu-<id>.xlsx)")
    template.add_argument("--lang", choices=LANGUAGES, default="vi", help="headers and words")
    template.set_defaults(func=cmd_responses_template)
    actions.add_parser(
        "rebuild-rollups",
        help="recount the report rollups from the stored answers (after a questionnaire "
        "file moved a criterion to another factor)",
    ).set_defaults(func=cmd_rebuild_rollups)
