"""Command-line commands of the dossiers feature (listed in `bot.cli.COMMAND_MODULES`).

    python -m bot dossiers import FILE [--codes-out CODES.csv]   (--help lists the columns)
    python -m bot dossiers list [--agency CODE] [--state N] [--overdue] [--format table|csv|json]
    python -m bot dossiers show CODE
    python -m bot dossiers scan
    python -m bot apikeys create --agency CODE [--label TEXT] | list | revoke KEY_ID
    python -m bot apologies list [--status pending|sent|undeliverable|all] [--agency CODE]
    python -m bot apologies show ID [--lang en] | print ID [--out FILE] [--template NAME]
    python -m bot apologies signer --agency CODE [--title T] [--name N] [--place P]
    python -m bot calendar add DATE --off|--working [--note TEXT] | remove DATE | list
    python -m bot purge

Lists never show citizens' names or phone numbers (`dossiers list` masks them: see
`handlers.dossiers.listing`); `dossiers show`, `apologies show` and `print` are asked for one
dossier or notice, which is addressed to the citizen by name.
"""

from __future__ import annotations

import argparse
import csv
import sys
import textwrap
from datetime import date
from pathlib import Path

from sqlalchemy import and_, select

from bot.cli.common import UsageError
from bot.clock import local_today, utc_now
from bot.database import Database
from bot.jobs.dossiers import run_due
from bot.models import (
    Agency,
    AgencyNoticeSettings,
    ApiKey,
    ApologyNotice,
    CalendarDay,
    OutboxMessage,
)
from bot.settings import Settings
from bot.states import OutboxKind, OutboxStatus
from bot.tabular import DAY_FORMATS, MOMENT_FORMATS, LazyHelp, TableError
from bot.textnorm import fold
from handlers.dossiers.apologies import load_template, notice_template_for, shipped_templates
from handlers.dossiers.importer import default_progress, import_dossiers
from handlers.dossiers.keys import ApiKeyError, create_key, revoke_key
from handlers.dossiers.listing import FORMATS as LIST_FORMATS
from handlers.dossiers.listing import ListFilters, listed, show_text, write_list
from handlers.dossiers.purge import purge
from handlers.dossiers.records import STATES
from handlers.dossiers.reschedule import Rescheduled, dossier_history, reschedule_for_day
from handlers.dossiers.store import lock_writes
from handlers.dossiers.workdays import WorkCalendar, load_calendar

STATUS_FILTERS = {
    "pending": (OutboxStatus.PENDING, OutboxStatus.SENDING),
    "sent": (OutboxStatus.SENT,),
    "undeliverable": (OutboxStatus.COUNTER, OutboxStatus.FAILED),
}


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
    from handlers.dossiers.records import ALIASES, COLUMNS

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
        if args.agency and not await session.scalar(
            select(Agency.id).where(Agency.code == args.agency)
        ):
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
        rows = await session.execute(
            select(ApiKey, Agency.code)
            .join(Agency, Agency.id == ApiKey.agency_id)
            .order_by(ApiKey.id)
        )
        for key, agency in rows:
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


# -- apologies ---------------------------------------------------------------------------


async def cmd_apologies_list(args, settings: Settings, database: Database) -> int:
    joined = and_(
        OutboxMessage.kind == OutboxKind.APOLOGY, OutboxMessage.ref_id == ApologyNotice.id
    )
    query = (
        select(ApologyNotice, Agency.code, OutboxMessage)
        .join(Agency, Agency.id == ApologyNotice.agency_id)
        .outerjoin(OutboxMessage, joined)
        .order_by(ApologyNotice.id.desc())
        .limit(args.limit)
    )
    if args.status != "all":
        query = query.where(OutboxMessage.status.in_(STATUS_FILTERS[args.status]))
    if args.agency:
        query = query.where(Agency.code == args.agency)
    async with database.transaction() as session:
        rows = (await session.execute(query)).all()
    print(
        f"{'id':>7}  {'number':<10} {'agency':<14} {'dossier':<24} {'issued':<10} "
        f"{'new date':<10} {'status':<9} route"
    )
    for notice, agency, message in rows:
        status = message.status if message else "-"
        route = (message.route or "") if message else ""
        if message and message.uncertain:
            route += " (possible duplicate)"
        if message and message.status == OutboxStatus.FAILED and message.last_error:
            route += f" {message.last_error[:60]}"
        if notice.reason is None:
            route += " [reason missing: the template's general sentence]"
        print(
            f"{notice.id:>7}  {notice.number_seq}/PXL".ljust(20)
            + f"{agency:<14} {notice.dossier_code:<24} {notice.issued_on:%d/%m/%Y} "
            f"{notice.new_date:%d/%m/%Y} {status:<9} {route}"
        )
    print(f"{len(rows)} notices", file=sys.stderr)
    return 0


async def _notice(database: Database, notice_id: int) -> ApologyNotice:
    async with database.transaction() as session:
        notice = await session.get(ApologyNotice, notice_id)
    if notice is None:
        raise UsageError(f"no apology notice {notice_id}")
    return notice


async def cmd_apologies_show(args, settings: Settings, database: Database) -> int:
    notice = await _notice(database, args.id)
    template = notice_template_for(notice, args.lang, settings.dossier.template_dir)
    from handlers.dossiers.apologies import notice_values

    values = notice_values(notice, template)
    parts = [
        *(template.substitute(line, values) for line in template.data.get("header_left", [])),
        template.text("number", values),
        template.text("place_date", values),
        "",
        template.text("title", values),
        template.text("recipient", values),
        "",
        template.text("body", values),
        "",
        template.text("signer_title", values),
        template.text("signer_name", values),
    ]
    print("\n".join(part for part in parts if part is not None))
    return 0


async def cmd_apologies_print(args, settings: Settings, database: Database) -> int:
    from bot.rendering.pdf import FontMissing, render_pdf

    notice = await _notice(database, args.id)
    try:
        template = (
            load_template(args.template, settings.dossier.template_dir)
            if args.template
            else notice_template_for(notice, None, settings.dossier.template_dir)
        )
    except FileNotFoundError as error:
        raise UsageError(f"{error} (shipped: {', '.join(shipped_templates())})") from None
    try:
        content = render_pdf(notice, template, settings.dossier.pdf_font)
    except FontMissing as error:
        raise UsageError(str(error)) from None
    out = Path(args.out or f"apology-{notice.id}.pdf")
    out.write_bytes(content)  # noqa: ASYNC240 - a command line, nothing else waits on it
    print(f"{out} ({len(content) // 1024} KiB)")
    return 0


async def cmd_apologies_signer(args, settings: Settings, database: Database) -> int:
    async with database.transaction() as session:
        agency_id = await session.scalar(select(Agency.id).where(Agency.code == args.agency))
        if agency_id is None:
            raise UsageError(f"unknown agency code {args.agency!r}")
        row = await session.get(AgencyNoticeSettings, agency_id)
        if row is None:
            row = AgencyNoticeSettings(agency_id=agency_id)
            session.add(row)
        for name in ("place", "signer_title", "signer_name"):
            value = getattr(args, name)
            if value is not None:
                setattr(row, name, value.strip() or None)
    print(f"{args.agency}: notices are signed by {row.signer_title or '-'} {row.signer_name or ''}")
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
        row = await session.get(CalendarDay, day)
        was = None if row is None else row.working
        if row is None:
            session.add(CalendarDay(day=day, working=args.working, note=args.note))
        else:
            row.working, row.note = args.working, args.note
        await session.flush()
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
        row = await session.get(CalendarDay, day)
        if row is None:
            raise UsageError(f"{args.date} is not in the local calendar")
        reason = f"calendar: {day.isoformat()} {_kind(row.working)} removed"
        await session.delete(row)
        await session.flush()
        moves = await _reschedule(session, day, before, settings.zone, reason)
    print(f"{args.date}: back to the national calendar")
    _print_moves(moves)
    return 0


async def cmd_calendar_list(args, settings: Settings, database: Database) -> int:
    year = args.year or utc_now().year
    async with database.transaction() as session:
        local = list(await session.scalars(select(CalendarDay).order_by(CalendarDay.day)))
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

    apologies = sub.add_parser("apologies", help="apology notices").add_subparsers(
        dest="action", required=True
    )
    listing = apologies.add_parser("list", help="notices and their delivery")
    listing.add_argument("--status", choices=[*STATUS_FILTERS, "all"], default="all")
    listing.add_argument("--agency", help="agency code")
    listing.add_argument("--limit", type=int, default=200)
    listing.set_defaults(func=cmd_apologies_list)
    show = apologies.add_parser("show", help="the text of one notice")
    show.add_argument("id", type=int)
    show.add_argument("--lang", choices=["vi", "en"])
    show.set_defaults(func=cmd_apologies_show)
    printing = apologies.add_parser("print", help="a printable PDF of one notice")
    printing.add_argument("id", type=int)
    printing.add_argument("--out", help="PDF file (default apology-ID.pdf)")
    printing.add_argument("--template", help=f"one of {', '.join(shipped_templates())}")
    printing.set_defaults(func=cmd_apologies_print)
    signer = apologies.add_parser("signer", help="who signs an agency's notices, and where")
    signer.add_argument("--agency", required=True)
    signer.add_argument("--title", dest="signer_title")
    signer.add_argument("--name", dest="signer_name")
    signer.add_argument("--place")
    signer.set_defaults(func=cmd_apologies_signer)

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
