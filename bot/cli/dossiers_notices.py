"""Command-line commands of apology notices (registered by `bot.cli.dossiers`).

    python -m bot apologies list [--status pending|sent|undeliverable|all] [--agency CODE]
    python -m bot apologies show ID [--lang en] | print ID [--out FILE] [--template NAME]
    python -m bot apologies signer --agency CODE [--title T] [--name N] [--place P]

The list never shows citizens' names; `show` and `print` are asked for one notice, which
is addressed to the citizen by name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.common import UsageError
from bot.database import Database
from bot.models import ApologyNotice
from bot.settings import Settings
from bot.states import OutboxStatus
from handlers.dossiers import (
    load_template,
    notice_template_for,
    notice_values,
    shipped_templates,
    store,
)

STATUS_FILTERS = {
    "pending": (OutboxStatus.PENDING, OutboxStatus.SENDING),
    "sent": (OutboxStatus.SENT,),
    "undeliverable": (OutboxStatus.COUNTER, OutboxStatus.FAILED),
}


async def cmd_apologies_list(args, settings: Settings, database: Database) -> int:
    async with database.transaction() as session:
        rows = await store.notices_with_delivery(
            session,
            statuses=None if args.status == "all" else STATUS_FILTERS[args.status],
            agency=args.agency,
            limit=args.limit,
        )
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
        notice = await store.notice_by_id(session, notice_id)
    if notice is None:
        raise UsageError(f"no apology notice {notice_id}")
    return notice


async def cmd_apologies_show(args, settings: Settings, database: Database) -> int:
    notice = await _notice(database, args.id)
    template = notice_template_for(notice, args.lang, settings.dossier.template_dir)
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
        agency_id = await store.agency_id_by_code(session, args.agency)
        if agency_id is None:
            raise UsageError(f"unknown agency code {args.agency!r}")
        row = await store.notice_settings(session, agency_id)
        for name in ("place", "signer_title", "signer_name"):
            value = getattr(args, name)
            if value is not None:
                setattr(row, name, value.strip() or None)
    print(f"{args.agency}: notices are signed by {row.signer_title or '-'} {row.signer_name or ''}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
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
