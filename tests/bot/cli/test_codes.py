"""`python -m bot codes qr`: the PNG encodes the deep link, and the code is printed under it."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import segno
from PIL import Image

from bot import migrate
from bot.cli import main
from bot.cli.codes import QUIET_ZONE, deep_link, render_qr_png
from bot.database import Database
from tests.builders import make_code, seed_catalog
from tests.cli_helpers import run_cli
from tests.fakes.telegram import TOKEN, FakeTelegram


def modules_of(png: bytes, link: str, scale: int = 12) -> tuple[list[list[bool]], list[list[bool]]]:
    """The dark modules read back from the picture, and those the link should give."""
    image = Image.open(io.BytesIO(png)).convert("L")
    expected = [[bool(m) for m in row] for row in segno.make_qr(link, error="m").matrix]
    size = len(expected)
    read = [
        [
            image.getpixel(
                ((QUIET_ZONE + x) * scale + scale // 2, (QUIET_ZONE + y) * scale + scale // 2)
            )
            < 128
            for x in range(size)
        ]
        for y in range(size)
    ]
    return read, expected


def test_the_picture_holds_the_link_and_shows_the_code():
    link = deep_link("SipasSurveyBot", "K7QM2XWP9A")
    assert link == "https://t.me/SipasSurveyBot?start=K7QM2XWP9A"
    png = render_qr_png(link, "K7QM2XWP9A")
    read, expected = modules_of(png, link)
    assert read == expected
    image = Image.open(io.BytesIO(png)).convert("L")
    assert image.info["dpi"][0] >= 299
    symbol = (len(expected) + 2 * QUIET_ZONE) * 12
    band = image.crop((0, symbol, image.width, image.height))
    assert image.height > symbol + 40  # room for the code under the symbol
    assert band.getextrema()[0] < 50  # something dark is printed there
    other, _ = modules_of(render_qr_png(deep_link("SipasSurveyBot", "ZZZZ2XWP9A"), "Z"), link)
    assert other != expected


def seeded_database(tmp_path: Path) -> tuple[str, str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'qr.db'}"

    async def seed() -> str:
        database = Database(url)
        try:
            await migrate.upgrade(database)
            return await make_code(database, await seed_catalog(database))
        finally:
            await database.dispose()

    return url, asyncio.run(seed())


def test_the_command_writes_the_png_for_a_known_code(tmp_path, monkeypatch, capsys):
    url, code = seeded_database(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "SipasSurveyBot")
    output = tmp_path / "receipt.png"
    assert main(["codes", "qr", code.lower(), "--output", str(output)]) == 0
    link = f"https://t.me/SipasSurveyBot?start={code}"
    assert link in capsys.readouterr().out
    read, expected = modules_of(output.read_bytes(), link)
    assert read == expected
    assert main(["codes", "qr", "ZZZZZZZZZZ"]) == 2
    assert "unknown survey code" in capsys.readouterr().err
    assert not (tmp_path / "ZZZZZZZZZZ.png").exists()


async def test_the_username_comes_from_getme_without_the_setting(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'qr.db'}"
    database = Database(url)
    await migrate.upgrade(database)
    code = await make_code(database, await seed_catalog(database))
    await database.dispose()
    async with FakeTelegram(username="TinhDongNaiBot") as fake:
        env = {
            "DATABASE_URL": url,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": fake.base_url,
        }
        # In a thread: the command has its own event loop; the fake serves on this one.
        result = await asyncio.to_thread(run_cli, tmp_path, "codes", "qr", code, env=env)
    assert result.returncode == 0, result.stderr
    assert f"https://t.me/TinhDongNaiBot?start={code}" in result.stdout
    assert (tmp_path / f"{code}.png").stat().st_size > 1000
    assert TOKEN not in result.stdout + result.stderr
