"""`python -m bot responses import|template|rebuild-rollups|publish`: completed responses.

Paper and web forms come in from files (`import`, into the workbook `template` writes);
chat responses are held until their day is over and then stored shuffled (`publish`,
which the bot also runs every hour: bot.scheduler).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import UsageError
from bot.settings import LANGUAGES
from bot.tabular import ENCODINGS, LazyHelp

if TYPE_CHECKING:
    from bot.cli.common import Subparsers
    from bot.database import Database
    from bot.settings import Settings


async def cmd_responses_import(args, settings: Settings, database: Database) -> int:
    from bot.questionnaire import load_questionnaires
    from bot.tabular import TableError, print_import_report
    from handlers.survey.forms_import import import_responses

    path = Path(args.file)
    if not path.is_file():  # noqa: ASYNC240 - a command line, nothing else waits on it
        raise UsageError(f"{path}: no such file")

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
        raise UsageError(str(error)) from None
    return print_import_report(report, path)


async def cmd_responses_template(args, settings: Settings, database: Database) -> int:
    from sqlalchemy import select

    from bot.models import Agency, Service
    from bot.questionnaire import load_questionnaires
    from bot.rendering.forms_template import write_template

    questionnaires = load_questionnaires()
    questionnaire_id = args.questionnaire or settings.survey.questionnaire
    if questionnaire_id not in questionnaires:
        known = ", ".join(sorted(questionnaires))
        raise UsageError(f"unknown questionnaire {questionnaire_id} (one of: {known})")
    output = Path(args.output or f"mau-phieu-{questionnaire_id}.xlsx")
    if output.suffix.lower() != ".xlsx":
        raise UsageError("--output must name an .xlsx file")
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
    from bot.questionnaire import load_questionnaires
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
    from bot.questionnaire import load_questionnaires
    from handlers.survey.store.rollups import rebuild_rollups

    async with database.transaction() as session:
        await rebuild_rollups(session, load_questionnaires())
    print("report rollups rebuilt from the stored answers")
    return 0


async def cmd_responses_publish(args, settings: Settings, database: Database) -> int:
    from bot.questionnaire import load_questionnaires
    from handlers.survey.publication import held_count, publish_due

    if args.all_days and not args.force:
        raise UsageError(
            "--all-days publishes today's responses before the day is over, which splits "
            "the day into batches by the time of publication and so weakens anonymity; "
            "add --force if that is really meant"
        )
    published = await publish_due(
        database, settings, load_questionnaires(), include_today=args.all_days
    )
    print(f"{published} held chat responses published; {await held_count(database)} still held")
    return 0


def register(subparsers: Subparsers) -> None:
    responses = subparsers.add_parser(
        "responses",
        help="completed survey responses",
        description="Completed survey responses: those of the chat (held until their day "
        "is over), and paper or web forms imported from files.",
    )
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
    publish = actions.add_parser(
        "publish",
        help="store the held chat responses of the days before today, shuffled (the bot "
        "does this every hour)",
        description="Chat responses wait in a pool until their day is over and are then "
        "stored in one shuffled batch, so that none can be traced to its chat by order, "
        "time or transaction (README, Anonymity). This runs that publication now.",
    )
    publish.add_argument(
        "--all-days",
        action="store_true",
        help="also publish today's held responses (needs --force: it weakens anonymity)",
    )
    publish.add_argument("--force", action="store_true", help="confirm --all-days")
    publish.set_defaults(func=cmd_responses_publish)
