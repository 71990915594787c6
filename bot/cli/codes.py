"""`python -m bot codes create …` and `python -m bot codes qr CODE`: survey start codes.

`qr` writes a printable PNG of https://t.me/<bot>?start=<CODE> with the code printed
under it: Zalo has no deep links, so a citizen on Zalo types the code instead. The code
must exist, so that a typo never reaches the printer. segno, PIL and PTB are imported
only when `qr` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.common import UsageError

if TYPE_CHECKING:
    from bot.cli.common import Subparsers
    from bot.database import Database
    from bot.settings import Settings

QUIET_ZONE = 4  # modules of white around the symbol, as the standard asks
DPI = 300


async def cmd_codes_create(args, settings: Settings, database: Database) -> int:
    from bot.clock import utc_now
    from handlers.survey.codes import CodeError
    from handlers.survey.store import create_codes

    if not 1 <= args.count <= 100_000:
        raise UsageError("--count must be between 1 and 100000")
    async with database.transaction() as session:
        try:
            codes = await create_codes(
                session,
                agency_code=args.agency,
                service_code=args.service,
                count=args.count,
                single_use=not args.reusable,
                now=utc_now(),
                length=settings.survey.code_length,
                valid_for=timedelta(days=args.days) if args.days else None,
            )
        except CodeError as error:
            raise UsageError(str(error)) from None
    print("\n".join(codes))
    return 0


def deep_link(username: str, code: str) -> str:
    return f"https://t.me/{username}?start={code}"


def render_qr_png(link: str, code: str, *, scale: int = 12) -> bytes:
    """The QR code (error correction M) with `code` in large letters underneath."""
    import segno
    from PIL import Image, ImageDraw, ImageFont

    symbol = io.BytesIO()
    segno.make_qr(link, error="m").save(symbol, kind="png", scale=scale, border=QUIET_ZONE)
    qr = Image.open(io.BytesIO(symbol.getvalue())).convert("L")
    width = qr.width
    size = scale * 4
    font = ImageFont.load_default(size=size)
    while size > 8 and font.getbbox(code)[2] > width * 0.9:
        size -= 2
        font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(code)
    band = (bottom - top) + scale * QUIET_ZONE
    page = Image.new("L", (width, qr.height + band), 255)
    page.paste(qr, (0, 0))
    draw = ImageDraw.Draw(page)
    x = (width - (right - left)) // 2 - left
    y = qr.height - scale - top  # three modules of the quiet zone stay clear
    draw.text((x, y), code, fill=0, font=font)
    out = io.BytesIO()
    page.save(out, format="PNG", dpi=(DPI, DPI))
    return out.getvalue()


async def bot_username(settings: Settings) -> str:
    """TELEGRAM_BOT_USERNAME, or the username Telegram reports for the token."""
    if settings.telegram.bot_username:
        return settings.telegram.bot_username
    if settings.telegram.bot_token is None:
        raise UsageError("set TELEGRAM_BOT_USERNAME (or TELEGRAM_BOT_TOKEN to ask Telegram)")
    from telegram.error import TelegramError

    from bot.channels._telegram_api import make_bot

    bot = make_bot(settings.telegram, connections=1)
    try:
        async with bot:
            return bot.username
    except TelegramError as error:
        raise UsageError(
            f"cannot ask Telegram for the bot's username ({error}); "
            "set TELEGRAM_BOT_USERNAME instead"
        ) from None


async def cmd_codes_qr(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    from bot.clock import utc_now
    from bot.models import StartCode
    from handlers.survey.codes import normalise_code

    code = normalise_code(args.code)
    if code is None:
        raise UsageError(f"{args.code!r} is not a survey code")
    async with database.transaction() as session:
        row = await session.get(StartCode, code)
    if row is None:
        raise UsageError(f"unknown survey code {code} (create codes with `codes create`)")
    if row.expires_at is not None and row.expires_at <= utc_now():
        print(f"warning: code {code} has expired", file=sys.stderr)
    if row.used_at is not None and row.single_use:
        print(f"warning: single-use code {code} has already been used", file=sys.stderr)
    link = deep_link(await bot_username(settings), code)
    output = Path(args.output or f"{code}.png")
    await asyncio.to_thread(output.write_bytes, render_qr_png(link, code))
    print(f"{output}: {link}")
    return 0


def register(subparsers: Subparsers) -> None:
    codes = subparsers.add_parser(
        "codes",
        help="survey start codes",
        description="The codes a citizen sends (or scans) to start a survey about one "
        "agency and service.",
    ).add_subparsers(dest="action", required=True)
    create = codes.add_parser(
        "create",
        help="create codes for an agency and a service",
        description="Create survey codes for an agency and a service and print them, one a line.",
    )
    create.add_argument("--agency", required=True, help="agency code")
    create.add_argument("--service", required=True, help="service code")
    create.add_argument("--count", type=int, default=1)
    create.add_argument(
        "--reusable",
        action="store_true",
        help="a counter code (one response per chat, service and day) instead of single use",
    )
    create.add_argument("--days", type=float, help="valid for this many days (default: no end)")
    create.set_defaults(func=cmd_codes_create)
    qr = codes.add_parser(
        "qr",
        help="write a printable PNG QR code of a code's Telegram link",
        description="Write a printable PNG of the code's Telegram deep link, the code "
        "printed under it for citizens on Zalo, who type it.",
    )
    qr.add_argument("code")
    qr.add_argument("--output", help="PNG file to write (default: CODE.png)")
    qr.set_defaults(func=cmd_codes_qr)
