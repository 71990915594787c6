"""Command-line commands of the dossiers feature (listed in `bot.cli.COMMAND_MODULES`).

    python -m bot dossiers import FILE [--codes-out CODES.csv]   (--help lists the columns)
    python -m bot dossiers list [--agency CODE] [--state N] [--overdue] [--format table|csv|json]
    python -m bot dossiers show CODE
    python -m bot dossiers scan
    python -m bot dossiers timeliness [--period P] [--agency CODE] [--format table|json]
    python -m bot apikeys create --agency CODE [--label TEXT] | list | revoke KEY_ID
    python -m bot apologies …   (`bot.cli.dossiers_notices`, registered from here)
    python -m bot calendar add DATE --off|--working [--note TEXT] | remove DATE | list
    python -m bot purge

Lists never show citizens' names or phone numbers (`dossiers list` masks them: see
`handlers.dossiers.listing`); `dossiers show` is asked for one dossier, which is addressed
to the citizen by name.
"""

from __future__ import annotations

import argparse
import csv
import sys
import textwrap
from datetime import date
from pathlib import Path

from bot.cli import dossiers_notices, dossiers_timeliness
from bot.cli.common import UsageError
from bot.clock import local_today, utc_now
from bot.database import Database
from bot.jobs.dossiers import run_due
from bot.settings import Settings
from bot.tabular import DAY_FORMATS, MOMENT_FORMATS, LazyHelp, TableError
from bot.textnorm import fold
from handlers.dossiers import (
    ALIASES,
    COLUMNS,
    LIST_FORMATS,
    STATES,
    ApiKeyError,
    ListFilters,
    Rescheduled,
    WorkCalendar,
    create_key,
    default_progress,
    dossier_history,
    import_dossiers,
    listed,
    load_calendar,
    lock_writes,
    purge,
    reschedule_for_day,
    revoke_key,
    show_text,
    store,
    write_list,
)

# -- dossiers ----------------------------------------------------------------------------


async def cmd_import(args, settings: Settings, database: Database) -> int:
    path = Path(args.file)
    if not path.is_file():  # noqa: ASYNC240 - a command line, nothing else waits on it
        raise UsageError(f"{path}: no such file")
    try:
        result = await import_dossiers(
            database,
            path,
            now=args.clock(),
            zone=settings.zone,
            code_length=settings.survey.code_length,
            progress=default_progress(path),
        )
    except TableError as error:
        raise UsageError(str(error)) from None
    for outcome in result.outcomes:
        if outcome.status == "rejected":
            print(f"{path.name}: row {outcome.ref}: {'; '.join(outcome.reasons)}", file=sys.stderr)
    if args.codes_out:
        with open(args.codes_out, "w", encoding="utf-8", newline="") as file:  # noqa: ASYNC230
            writer = csv.writer(file)
            writer.writerow(["code", "start_code"])
            for outcome in result.outcomes:
                if outcome.start_code:
                    writer.writerow([outcome.code, outcome.start_code])
    print(f"{path.name}: {result.summary()}")
    return 1 if result.count("rejected") else 0


def import_columns_help() -> str:
    """Every column `dossiers import` reads, from the model's aliases, for its --help."""

    def wrap(text: str, indent: str = "") -> list[str]:
        return textwrap.wrap(text, 88, initial_indent=indent, subsequent_indent=indent + "    ")

    lines = wrap(
        "columns (Vietnamese or English headers; accents, case and spaces ignored; other "
        "accepted headers after 'also'):"
    )
    for name, (vi, en, needed, holds) in COLUMNS.items():
        shown = {fold(vi).replace(" ", "_"), fold(en).replace(" ", "_")}
        also = [alias for alias in ALIASES[name] if alias not in shown]
        lines += wrap(f"{vi} / {en} (needed: {needed}): {holds}", "  ")
        if also:
            lines += wrap(f"also: {', '.join(also)}", "      ")
    for paragraph in (
        f"Times: {MOMENT_FORMATS}, e.g. 22/10/2026 09:15, 22/10/2026 09:15:30, "
        "22-10-2026 09:15, 2026-10-22 09:15, 2026-10-22T09:15:00+07:00. Without a zone "
        "they are local time (TIMEZONE); a day alone is its midnight.",
        f"Days: {DAY_FORMATS}, also 22-10-2026. Excel date and time cells are read as they are.",
        "A row with a code and a state only changes the state. Each bad row is reported "
        "with its number and the fields at fault (never their values); the others are kept.",
    ):
        lines += ["", *wrap(paragraph)]
    return "\n".join(lines)


async def cmd_list(args, settings: Settings, database: Database) -> int:
    zone = settings.zone
    today = _day(args.as_of) if args.as_of else local_today(utc_now(), zone)
    filters = ListFilters(agency=args.agency, state=args.state, overdue=args.overdue)
    async with database.transaction() as session:
        if args.agency and not await store.agency_id_by_code(session, args.agency):
            raise UsageError(f"unknown agency code {args.agency!r}")
        calendar = await load_calendar(session)
        count = await write_list(
            listed(session, filters, calendar, today, zone), args.format, sys.stdout
        )
    print(f"{count} dossiers", file=sys.stderr)
    return 0


async def cmd_show(args, settings: Settings, database: Database) -> int:
    zone = settings.zone
    async with database.transaction() as session:
        text = await show_text(
            session,
            args.code,
            calendar=await load_calendar(session),
            today=local_today(utc_now(), zone),
            zone=zone,
            history=args.history,
        )
    if text is None:
        raise UsageError(f"no dossier {args.code!r}")
    print(text)
    return 0


async def cmd_scan(args, settings: Settings, database: Database) -> int:
    report = await run_due(database, settings, utc_now())
    print(
        f"{report.notices} apology notices, {report.escalations} escalations, "
        f"{report.purged} dossiers purged"
    )
    return 0


async def cmd_purge(args, settings: Settings, database: Database) -> int:
    async with database.transaction() as session:
        report = await purge(session, utc_now(), settings.dossier.retention_days, settings.zone)
    print(
        f"personal data removed from {report.dossiers} dossiers and {report.notices} notices; "
        f"{report.link_failures} old link attempts deleted"
    )
    return 0


# -- API keys ----------------------------------------------------------------------------


async def cmd_key_create(args, settings: Settings, database: Database) -> int:
    async with database.transaction() as session:
        try:
            key = await create_key(session, args.agency, utc_now(), args.label)
        except ApiKeyError as error:
            raise UsageError(str(error)) from None
    print(key)
    print(
        "Give this key to the one-stop system now: it is not stored and cannot be shown again.",
        file=sys.stderr,
    )
    return 0


async def cmd_key_list(args, settings: Settings, database: Database) -> int:
    async with database.transaction() as session:
        for key, agency in await store.keys_with_agency(session):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
            print(f"{key.key_id}  {agency:<16} {state:<18} last used {used}  {key.label or ''}")
    return 0


async def cmd_key_revoke(args, settings: Settings, database: Database) -> int:
    async with database.transaction() as session:
        if not await revoke_key(session, args.key_id.removeprefix("sipas_"), utc_now()):
            raise UsageError(f"no active key {args.key_id!r}")
    print(f"key {args.key_id} revoked")
    return 0


# -- calendar ----------------------------------------------------------------------------


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _kind(working: bool | None) -> str:
    return "working day" if working else "day off"


def _print_moves(moves: Rescheduled) -> None:
    print(f"{moves.later} open dossiers moved to a later appointment")
    if moves.earlier:
        print(f"{moves.earlier} open dossiers moved back to an earlier appointment")
    if moves.kept:
        print(f"{moves.kept} apologised dossiers keep the new date given in their notice")


async def _reschedule(session, day: date, before: WorkCalendar, zone, reason: str) -> Rescheduled:
    """Move the open dossiers around `day` from the calendar `before` to the one stored now."""
    after = await load_calendar(session)
    return await reschedule_for_day(
        session, day, before, after, now=utc_now(), zone=zone, reason=reason
    )


async def cmd_calendar_add(args, settings: Settings, database: Database) -> int:
    """Add or change a local exception, and move the open dossiers it falls inside."""
    day = _day(args.date)
    async with database.transaction() as session:
        await lock_writes(session)  # no dossier is written with the old calendar meanwhile
        before = await load_calendar(session)
        was = await store.set_local_day(session, day, args.working, args.note)
        reason = f"calendar: {day.isoformat()} {_kind(args.working)} added"
        if was is not None:
            reason = f"calendar: {day.isoformat()} {_kind(was)} -> {_kind(args.working)}"
        moves = await _reschedule(session, day, before, settings.zone, reason)
    print(f"{day}: {_kind(args.working)}")
    _print_moves(moves)
    return 0


async def cmd_calendar_remove(args, settings: Settings, database: Database) -> int:
    """Back to the national calendar; the dossiers the exception moved move back."""
    day = _day(args.date)
    async with database.transaction() as session:
        await lock_writes(session)
        before = await load_calendar(session)
        was = await store.remove_local_day(session, day)
        if was is None:
            raise UsageError(f"{args.date} is not in the local calendar")
        reason = f"calendar: {day.isoformat()} {_kind(was)} removed"
        moves = await _reschedule(session, day, before, settings.zone, reason)
    print(f"{args.date}: back to the national calendar")
    _print_moves(moves)
    return 0


async def cmd_calendar_list(args, settings: Settings, database: Database) -> int:
    year = args.year or utc_now().year
    async with database.transaction() as session:
        local = await store.local_days(session)
    national = WorkCalendar()
    print(f"National days off in {year}:")
    day = date(year, 1, 1)
    while day.year == year:
        if (name := national.holiday_name(day)) is not None:
            print(f"  {day:%a %d/%m/%Y}  {name}")
        elif day.weekday() == 5 and national.is_working_day(day):
            print(f"  {day:%a %d/%m/%Y}  working Saturday (swapped)")
        day = date.fromordinal(day.toordinal() + 1)
    print("Local exceptions:")
    for row in local:
        kind = "working day" if row.working else "day off"
        print(f"  {row.day:%a %d/%m/%Y}  {kind}  {row.note or ''}")
    return 0


# -- registration ------------------------------------------------------------------------


def register(sub: argparse._SubParsersAction) -> None:
    dossiers = sub.add_parser("dossiers", help="dossiers from one-stop systems").add_subparsers(
        dest="action", required=True
    )
    importing = dossiers.add_parser(
        "import",
        help="upsert dossiers from a CSV or XLSX file",
        description="Upsert dossiers from a one-stop system's export (CSV or XLSX), one row\n"
        "per dossier, on its code: importing the same file again changes nothing.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    importing.add_argument("-h", "--help", action=LazyHelp, epilog=import_columns_help)
    importing.add_argument("file")
    importing.add_argument("--codes-out", help="write code,start_code of each dossier (CSV)")
    importing.set_defaults(func=cmd_import, clock=utc_now)  # tests inject a clock
    dossiers.add_parser("scan", help="issue due apology notices and escalations now").set_defaults(
        func=cmd_scan
    )
    listing = dossiers.add_parser(
        "list",
        help="dossiers and their dates, the citizen masked",
        description="Dossiers in the order they were first stored, with their dates: "
        "received, appointment, due (when pauses moved it), new date (of the apology, or "
        "announced), and the working days late. The citizen is masked (initials, phone "
        "84•••••5678): use `dossiers show CODE` for one dossier in full. Dates are "
        "dd/mm/yyyy in the table, ISO 8601 in csv and json. States: "
        + "; ".join(f"{number} {name}" for number, name in STATES.items()),
    )
    listing.add_argument("--agency", metavar="CODE", help="one agency's dossiers")
    listing.add_argument(
        "--state", type=int, choices=sorted(STATES), metavar="N", help="in state N (1-10)"
    )
    listing.add_argument(
        "--overdue",
        action="store_true",
        help="only open dossiers past the date owed (due date, or the new date once "
        "apologised) whose clock is not stopped by a pause",
    )
    listing.add_argument("--format", choices=LIST_FORMATS, default="table")
    listing.add_argument(
        "--as-of",
        metavar="YYYY-MM-DD",
        help="count lateness on this day instead of today (TIMEZONE)",
    )
    listing.set_defaults(func=cmd_list)
    show = dossiers.add_parser(
        "show",
        help="one dossier in full: dates, pauses, state, apology notice and its delivery",
        description="Everything stored about one dossier: the citizen's name and phone "
        "(asked for this dossier by its code), the survey code, the dates received, "
        "appointment, due and new date, the pauses, the state and when it changed, the "
        "apology notice and its delivery in the outbox, and any escalation.",
    )
    show.add_argument("code", help="the dossier's code")
    # `show` lists the dossier's recorded date changes (calendar moves) under "History".
    show.set_defaults(func=cmd_show, history=dossier_history)
    dossiers_timeliness.register(dossiers)

    sub.add_parser("purge", help="erase personal data of dossiers past retention").set_defaults(
        func=cmd_purge
    )

    keys = sub.add_parser("apikeys", help="keys of the dossier API").add_subparsers(
        dest="action", required=True
    )
    create = keys.add_parser("create", help="create a key for an agency (shown once)")
    create.add_argument("--agency", required=True, help="agency code")
    create.add_argument("--label", help="e.g. the one-stop system's name")
    create.set_defaults(func=cmd_key_create)
    keys.add_parser("list", help="list keys (never their secrets)").set_defaults(func=cmd_key_list)
    revoke = keys.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=cmd_key_revoke)

    dossiers_notices.register(sub)

    calendar = sub.add_parser("calendar", help="local days off and extra working days")
    actions = calendar.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add or change a local exception")
    add.add_argument("date", help="YYYY-MM-DD")
    kind = add.add_mutually_exclusive_group(required=True)
    kind.add_argument("--off", dest="working", action="store_false")
    kind.add_argument("--working", dest="working", action="store_true")
    add.add_argument("--note")
    add.set_defaults(func=cmd_calendar_add)
    remove = actions.add_parser("remove", help="remove a local exception")
    remove.add_argument("date")
    remove.set_defaults(func=cmd_calendar_remove)
    listing = actions.add_parser("list", help="national days off and local exceptions")
    listing.add_argument("--year", type=int)
    listing.set_defaults(func=cmd_calendar_list)
