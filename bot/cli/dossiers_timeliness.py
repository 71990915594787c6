"""`python -m bot dossiers timeliness`: QĐ 766's on-time figures per agency, ranked.

    python -m bot dossiers timeliness [--period 2027-02] [--agency CODE …]
                                      [--format table|json] [--lang vi|en]

Registered from `bot.cli.dossiers`. What each figure means is in
`handlers.dossiers.timeliness`; the JSON is what `GET /api/v1/reports/dossiers` answers.
"""

from __future__ import annotations

import argparse
import sys

from bot.cli.common import UsageError
from bot.clock import local_today, utc_now
from bot.database import Database
from bot.i18n import LANGUAGES
from bot.settings import Settings
from handlers.dossiers.timeliness import UnknownAgency, agency_ids_for, timeliness_report
from handlers.dossiers.timeliness_text import FORMATS, render_json, render_table
from handlers.reports import MONTH, Period


def _period(text: str | None, settings: Settings, now) -> Period:
    if not text:
        return Period.containing(local_today(now, settings), MONTH)
    try:
        return Period.parse(text)
    except ValueError as error:
        raise UsageError(f"--period: {error}") from None


def _codes(values: list[str] | None) -> list[str]:
    return [code.strip() for value in values or [] for code in value.split(",") if code.strip()]


async def cmd_timeliness(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    now = args.clock()
    period = _period(args.period, settings, now)
    codes = _codes(args.agency)
    async with database.transaction() as session:
        try:
            ids = await agency_ids_for(session, codes) if codes else None
        except UnknownAgency as error:
            raise UsageError(f"--agency: no agency {error}") from None
        figures = await timeliness_report(
            session, ids, period, now, settings.dossier, zone=settings.zone
        )
    text = render_json(figures) if args.format == "json" else render_table(figures, args.lang)
    sys.stdout.write(text)
    return 0


def register(dossiers: argparse._SubParsersAction) -> None:
    parser = dossiers.add_parser(
        "timeliness",
        help="on-time figures per agency (Decision 766/QD-TTg), ranked",
        description=(
            "The progress figure of Decision 766/QD-TTg per agency: dossiers finished in "
            "the period, the share finished on or before the appointment date (as moved by "
            "supplement pauses; an apology's new date does not count), overdue now, apology "
            "notices of the period sent and undelivered, apologies owed now, escalations. "
            "Ranked by share, then by dossiers finished. Days are in the TIMEZONE setting."
        ),
    )
    parser.add_argument(
        "--period",
        help="2027-02, 2027-Q1, 2027 or 2027-01-15..2027-03-20 (default: this month)",
    )
    parser.add_argument(
        "--agency",
        action="append",
        metavar="CODE",
        help="only these agencies (repeat, or CODE,CODE); default: the whole province",
    )
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--lang", choices=LANGUAGES, default="vi", help="headings and numbers")
    parser.set_defaults(func=cmd_timeliness, clock=utc_now)  # tests inject a clock
