"""The logs of a real `python -m bot run` at DEBUG hold nothing personal and no secret.

Distinctive values are planted everywhere a citizen's or an office's data enters: a
dossier (name, phone, code) pushed through the API, a receipt code, a citizen's
suggestion, `/hoso` with the code and phone digits, an official's invitation code, a
Zalo citizen's typed answers, the apology notice with the citizen's name that the
outbox delivers. Every path runs with Telegram and Zalo Bot webhooks, then the log of
the bot and of the `dossiers scan` command is searched for each value.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from bot.database import Database
from handlers.dossiers.keys import create_key
from tests.bot.channels.telegram_harness import (
    Q2017,
    SECRET,
    THANKS,
    bot_environment,
    order,
    plan,
)
from tests.bot.channels.telegram_harness import prompt as telegram_prompt
from tests.builders import make_code, seed_catalog
from tests.cli_helpers import run_cli
from tests.fakes import zalo_bot as zalo_fake
from tests.fakes.telegram import TOKEN, FakeTelegram
from tests.officials_helpers import invite

NAME = "Hoàng Thị Planted"
PHONE = "0912 468 357"
DOSSIER = "HS-PLANTED-7731"
SUGGESTION = "Góp ý riêng PlantedSuggestion 55501"
ZALO_TEXT = "PlantedZaloWords"
ZALO_SECRET = "zalo-webhook-secret-0123456789"
LINK_SECRET = "officials-link-secret-" + "x" * 20

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def environment(database: Database, telegram: FakeTelegram, zalo: zalo_fake.FakeZaloBot):
    """The Telegram bot's environment at DEBUG, with the Zalo Bot webhook beside it."""
    env = bot_environment(database, telegram, "webhook")
    env.update(
        {
            "LOG_LEVEL": "DEBUG",
            "ZALO_BOT_TOKEN": zalo_fake.TOKEN,
            "ZALO_BOT_API_BASE_URL": zalo.base_url,
            "ZALO_BOT_MODE": "webhook",
            "ZALO_BOT_WEBHOOK_SECRET": ZALO_SECRET,
            "OFFICIALS_LINK_SECRET": LINK_SECRET,
            "OUTBOX_POLL_SECONDS": "0.2",
        }
    )
    return env


async def until(predicate, within: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the condition did not come true in time")
        await asyncio.sleep(0.05)


async def scanned_at_start(base: str, within: float = 30) -> None:
    """Until the bot's /metrics counts one run of the dossier scan."""
    done = 'sipas_scheduled_jobs_total{job="dossier-tick",outcome="done"}'
    deadline = asyncio.get_running_loop().time() + within
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(f"{base}/metrics") as response:
                if done in await response.text():
                    return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("the bot did not scan the dossiers at start")
            await asyncio.sleep(0.1)


async def run_command(env: dict[str, str], log: Path, *argv: str) -> None:
    """A command as `main` in-process (in a thread: it has its own event loop), its
    output added to the log."""
    result = await asyncio.to_thread(run_cli, log.parent, *argv, env=env)
    with log.open("a", encoding="utf-8") as output:
        output.write(result.stdout + result.stderr)
    assert result.returncode == 0, "the command failed"


async def test_every_path_at_debug_logs_no_personal_value(database: Database, tmp_path):
    catalog = await seed_catalog(database)
    now = datetime.now(UTC)
    async with database.transaction() as session:
        api_key = await create_key(session, catalog.agency_code, now, "one-stop")
    invitation = await invite(database, agency=catalog.agency_code, now=now)
    zalo_code = await make_code(database, catalog)
    survey_code = await make_code(database, catalog)
    log = tmp_path / "bot.log"

    async with FakeTelegram() as telegram, zalo_fake.FakeZaloBot() as zalo:
        env = environment(database, telegram, zalo)
        with log.open("ab") as output:
            bot = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", env=env, cwd=tmp_path, stdout=output,
                stderr=output,
            )  # fmt: skip
        try:
            await telegram.wait_until(lambda: telegram.calls_of("setWebhook"), within=30)
            await until(lambda: zalo.webhook is not None, within=30)
            # The scan the bot runs at start must be over before the dossier comes: run
            # after it and before the citizen links the chat, it would give the notice to
            # the counter list, and the scan below would find nothing to send.
            await scanned_at_start(env["PUBLIC_BASE_URL"])

            # The one-stop system pushes an overdue dossier.
            record = {
                "code": DOSSIER,
                "agency": catalog.agency_code,
                "procedure_code": catalog.service_code,
                "procedure_name": "Đăng ký khai sinh",
                "citizen_name": NAME,
                "phone": PHONE,
                "received_at": "2026-11-02T08:30:00+07:00",
                "processing_days": 3,
                "state": 4,
            }
            async with (
                aiohttp.ClientSession() as http,
                http.post(
                    f"{env['PUBLIC_BASE_URL']}/api/v1/dossiers",
                    json={"dossiers": [record]},
                    headers={"Authorization": f"Bearer {api_key}"},
                ) as response,
            ):
                assert response.status == 200
                (result,) = (await response.json())["results"]
            receipt_code = result["start_code"]

            # The citizen opens the bot from the receipt (linking the dossier), asks for it,
            # and answers a survey, with a suggestion.
            citizen = telegram.user(8801)
            citizen.send(f"/start {receipt_code}")
            await citizen.expect(lambda m: DOSSIER in m.text, within=30)
            citizen.send(f"/hoso {DOSSIER} {PHONE.replace(' ', '')[-4:]}")
            await citizen.expect(lambda m: DOSSIER in m.text, within=30)
            citizen.send(f"/start {survey_code}")
            answers = {**plan(gate=2), "suggestion": SUGGESTION}
            for index in order(answers):
                message = await citizen.expect(telegram_prompt(index, answers), within=30)
                value = answers[Q2017.questions[index].id]
                if isinstance(value, str):
                    citizen.send(value)
                else:
                    citizen.press_value(value, message)
            await citizen.expect(THANKS, within=30)

            # The apology notice, with the citizen's name, goes out through the outbox.
            await run_command(env, log, "dossiers", "scan")
            await citizen.expect(lambda m: NAME in m.text, within=30)

            # An official registers on Zalo and reads the overdue list; a Zalo citizen
            # starts a survey and types words where a number is expected.
            official, citizen_z = "6600001", "6600002"
            for chat, text in (
                (official, f"/register {invitation}"),
                (official, "/overdue"),
                (citizen_z, zalo_code),
                (citizen_z, ZALO_TEXT),
            ):
                before = len(zalo.sent.get(chat, []))
                assert await zalo.post_webhook(zalo.text_update(chat, text)) == 200
                await until(lambda c=chat, b=before: len(zalo.sent.get(c, [])) > b)
            assert any(DOSSIER in text for text in zalo.sent[official])
        except BaseException:
            print(log.read_text()[-5000:])
            raise
        finally:
            bot.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.wait(), 30)

    logged = log.read_text(encoding="utf-8")
    assert "log level DEBUG" in logged and "channel telegram started" in logged
    digits = "".join(ch for ch in PHONE if ch.isdigit())
    planted = {
        "citizen name": NAME,
        "name without accents": "Hoang Thi Planted",
        "surname alone": "Planted",
        "phone": digits,
        "phone as stored": "84" + digits[1:],
        "phone as typed": PHONE,
        "dossier code": DOSSIER,
        "receipt code": receipt_code,
        "survey code": survey_code,
        "zalo survey code": zalo_code,
        "invitation": invitation,
        "suggestion": "PlantedSuggestion",
        "zalo text": ZALO_TEXT,
        "api key": api_key.split(".", 1)[1],
        "telegram token": TOKEN.split(":")[1],
        "telegram secret": SECRET,
        "zalo token": zalo_fake.TOKEN.split(":")[-1],
        "zalo secret": ZALO_SECRET,
        "link secret": LINK_SECRET,
    }
    found = {what: value for what, value in planted.items() if value in logged}
    assert found == {}, f"found in the log: {sorted(found)}"
