"""`python -m bot officials invite|list|revoke|digests run`.

The invitation code is printed once and only its hash is stored: whoever runs
`invite` hands the code to the official, who sends `/register <code>` to the bot.
`digests run` does what the digest tick does at a chosen moment, for catching up
after an outage or checking a schedule before it fires.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta

from bot.cli.common import UsageError
from bot.clock import utc_now
from bot.database import Database
from bot.settings import Settings
from handlers import officials as access


async def cmd_invite(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    now = utc_now()
    try:
        agency_code = access.parse_scope(args.scope)
    except access.InvitationError as error:
        raise UsageError(str(error)) from None
    if args.days is not None and not 0 < args.days <= 90:
        raise UsageError("--days must be between 0 and 90")
    async with database.transaction() as session:
        try:
            official, code = await access.create_invitation(
                session,
                role=args.role,
                agency_code=agency_code,
                now=now,
                settings=settings.officials,
                label=args.label,
                valid_for=timedelta(days=args.days) if args.days else None,
            )
        except access.InvitationError as error:
            raise UsageError(str(error).replace(" in scope", "")) from None
    expires = official.invite_expires_at.astimezone(settings.zone)
    print(access.display_code(code))
    print(
        f"official {official.id} ({official.role}, {args.scope}): send /register "
        f"{access.display_code(code)} to the bot before {expires:%Y-%m-%d %H:%M} "
        f"({settings.timezone}); the code works once"
    )
    return 0


async def cmd_list(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    now = utc_now()
    async with database.transaction() as session:
        rows = await access.roster(session)
    header = ("id", "role", "scope", "state", "channel", "digest", "label")
    table = [header]
    for official, agency_code, channel in rows:
        state = access.state_of(official, now)
        if args.active and state != "active":
            continue
        table.append(
            (
                str(official.id),
                official.role,
                f"agency:{agency_code}" if agency_code else access.PROVINCE,
                state,
                channel or "—",
                official.digest_frequency,
                official.label or "",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


async def cmd_revoke(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    async with database.transaction() as session:
        revoked = await access.revoke(session, args.id, utc_now())
    if not revoked:
        raise UsageError(f"no official {args.id} to revoke (unknown or already revoked)")
    print(f"official {args.id} revoked: every command and link of theirs is refused from now on")
    return 0


def _moment(text: str, settings: Settings) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--at: not an ISO 8601 time, e.g. 2026-12-07T08:00 ({text!r})") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=settings.zone)


async def cmd_digests_run(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    from bot.i18n import Translator
    from bot.jobs import digests as digest
    from bot.questionnaire import load_questionnaires

    at = _moment(args.at, settings) if args.at else utc_now()
    translator = Translator.load(settings.default_language)
    plans = await digest.plan_due(database, settings, translator, at)
    local = at.astimezone(settings.zone)
    print(f"digests due at {local:%Y-%m-%d %H:%M} ({settings.timezone}): {len(plans)}")
    for plan in plans:
        period = plan.due.period
        state = "already created" if plan.exists else "to create"
        print(
            f"  official {plan.due.official_id}: {plan.due.frequency} "
            f"{period.start:%d/%m/%Y}–{period.end:%d/%m/%Y} ({plan.language}), {state}"
        )
    if args.dry_run:
        print("dry run: nothing created")
        return 0
    created = await digest.run_due(database, settings, load_questionnaires(), translator, at)
    print(f"{created} digests created and queued in the outbox; the running bot sends them")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    officials = subparsers.add_parser("officials", help="officials who read scores in chat")
    actions = officials.add_subparsers(dest="action", required=True)
    invite = actions.add_parser("invite", help="print a one-time invitation code")
    invite.add_argument("--role", choices=access.ROLES, required=True)
    invite.add_argument("--scope", required=True, help="province or agency:<code>")
    invite.add_argument("--label", help="who it is for, e.g. a title (shown by list)")
    invite.add_argument(
        "--days", type=float, help="valid for this many days (default: OFFICIALS_INVITE_DAYS)"
    )
    invite.set_defaults(func=cmd_invite)
    listing = actions.add_parser("list", help="officials and invitations")
    listing.add_argument("--active", action="store_true", help="registered and not revoked only")
    listing.set_defaults(func=cmd_list)
    revoke = actions.add_parser("revoke", help="revoke an official or an unused invitation")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_revoke)
    digests = actions.add_parser("digests", help="officials' scheduled digests")
    digest_actions = digests.add_subparsers(dest="digest_action", required=True)
    run = digest_actions.add_parser(
        "run",
        help="create the digests due at a moment, once, as the tick does",
        description=(
            "Create and queue every digest due at --at (default: now) that does not exist yet. "
            "Each official gets only the latest occurrence of their schedule, once: running "
            "it twice, or beside the bot's own tick, creates nothing more."
        ),
    )
    run.add_argument(
        "--at", help="ISO 8601 time, local time zone unless given (default: now)", metavar="TIME"
    )
    run.add_argument("--dry-run", action="store_true", help="list what is due, create nothing")
    run.set_defaults(func=cmd_digests_run)
