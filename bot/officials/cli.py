"""`python -m bot officials invite|list|revoke`.

The invitation code is printed once and only its hash is stored: whoever runs
`invite` hands the code to the official, who sends `/register <code>` to the bot.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from sqlalchemy import select

from bot.database import Database
from bot.inbound import utc_now
from bot.models import Agency, Chat, Official
from bot.officials import access
from bot.settings import Settings


def _usage(message: str) -> Exception:
    from bot.cli import UsageError  # bot.cli imports this module while building its parser

    return UsageError(message)


async def cmd_invite(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    now = utc_now()
    try:
        agency_code = access.parse_scope(args.scope)
    except access.InvitationError as error:
        raise _usage(str(error)) from None
    if args.days is not None and not 0 < args.days <= 90:
        raise _usage("--days must be between 0 and 90")
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
            raise _usage(str(error).replace(" in scope", "")) from None
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
        rows = (
            await session.execute(
                select(Official, Agency.code, Chat.channel)
                .outerjoin(Agency, Agency.id == Official.agency_id)
                .outerjoin(Chat, Chat.id == Official.chat_id)
                .order_by(Official.id)
            )
        ).all()
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
        raise _usage(f"no official {args.id} to revoke (unknown or already revoked)")
    print(f"official {args.id} revoked: every command and link of theirs is refused from now on")
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
