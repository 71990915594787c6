"""`python -m bot codes qr CODE`: a printable QR code of a survey's Telegram deep link.

The PNG holds https://t.me/<bot>?start=<CODE> with the code printed under it:
Zalo has no deep links, so a citizen on Zalo types the code instead. The code
must exist, so that a typo never reaches the printer.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont
from telegram.error import TelegramError

from bot.cli import UsageError
from bot.clock import utc_now
from bot.database import Database
from bot.models import StartCode
from bot.settings import Settings
from handlers.survey.codes import normalise_code

QUIET_ZONE = 4  # modules of white around the symbol, as the standard asks
DPI = 300


def deep_link(username: str, code: str) -> str:
    return f"https://t.me/{username}?start={code}"


def render_qr_png(link: str, code: str, *, scale: int = 12) -> bytes:
    """The QR code (error correction M) with `code` in large letters underneath."""
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


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `qr` under the existing `codes` command."""
    codes = subparsers.choices["codes"]
    (actions,) = [a for a in codes._actions if isinstance(a, argparse._SubParsersAction)]
    qr = actions.add_parser("qr", help="write a printable PNG QR code of a code's Telegram link")
    qr.add_argument("code")
    qr.add_argument("--output", help="PNG file to write (default: CODE.png)")
    qr.set_defaults(func=cmd_codes_qr)
