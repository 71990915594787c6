"""Running the real Telegram channel in-process against the fake Bot API server."""

from __future__ import annotations

import os
import socket
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import select

from bot.channels import telegram as telegram_channel
from bot.database import Database
from bot.models import Response, ResponseAnswer
from bot.settings import Settings, SurveySettings, TelegramSettings
from bot.web import build_app, start_server
from handlers.survey import position
from tests.builders import QUESTIONNAIRES, TRANSLATOR, FakeClock, make_processor, publish_held
from tests.fakes.telegram import TOKEN, FakeTelegram, FakeUser

PROJECT = Path(__file__).resolve().parents[3]
SECRET = "webhook-secret-for-tests_0123456789"
Q2017 = QUESTIONNAIRES["sipas-2017"]
FAST = {"chat_rate": 1000, "chat_burst": 1000, "global_rate": 10_000, "bulk_rate": 10_000}
THANKS = TRANSLATOR("vi", "thanks").splitlines()[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def bot_environment(database: Database, fake: FakeTelegram, mode: str) -> dict[str, str]:
    """The environment of a `python -m bot run` process talking to the fake Bot API."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(PROJECT),
        "PYTHONIOENCODING": "utf-8",
        "DATABASE_URL": database.url,
        "HTTP_LISTEN": f"127.0.0.1:{port}",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "INFO",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_MODE": mode,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
    }
    env.update({f"TELEGRAM_{key.upper()}": str(value) for key, value in FAST.items()})
    return env


def make_settings(database_url: str, fake: FakeTelegram, mode: str, **telegram: object):
    port = free_port()
    return Settings(
        database_url=database_url,
        http_listen=f"127.0.0.1:{port}",
        public_base_url=f"http://127.0.0.1:{port}",
        telegram=TelegramSettings(
            bot_token=TOKEN,
            api_base_url=fake.base_url,
            mode=mode,
            webhook_secret=SECRET,
            **{**FAST, **telegram},
        ),
        survey=SurveySettings(),
    )


@asynccontextmanager
async def running_bot(database: Database, fake: FakeTelegram, mode: str, **telegram: object):
    """The channel started on its own web server; yields (channel, webhook URL)."""
    settings = make_settings(database.url, fake, mode, **telegram)
    processor = make_processor(database, FakeClock(), settings)
    app = build_app(database)
    channel = telegram_channel.build(settings, processor, app)
    assert channel is not None
    host, port = settings.http_host_port
    runner = await start_server(app, host, port)
    await channel.start()
    try:
        yield channel, f"{settings.public_base_url}{telegram_channel.WEBHOOK_PATH}"
    finally:
        await channel.stop()
        await runner.cleanup()


def plan(gate: int = 1, seed: int = 0) -> dict[str, int | str]:
    """A full set of answers: every Likert level and "no opinion" appear; the gate as given."""
    levels = [5, 4, 3, 2, 1, 0]
    answers: dict[str, int | str] = {}
    for index, question in enumerate(Q2017.questions):
        if question.factor in ("F1", "F2", "F3", "F4"):
            answers[question.id] = levels[(index + seed) % 6]
    answers["feedback_given"] = gate
    if gate == 1:
        answers.update({"F5.1": 4, "F5.2": (seed % 5) + 1, "F5.3": 2, "F5.4": 0})
    answers.update({"gender": 2, "age_band": 5, "education": 3, "occupation": 1, "ethnicity": 1})
    answers["suggestion"] = f"Cần thêm ghế ngồi chờ ({seed})."
    return answers


def prompt(index: int, answers: dict[str, int | str] | None = None) -> str:
    """The progress line of question ``index``, given the plan's answers before it
    (a gate answered "no" takes its questions out of the count)."""
    before = {q.id: answers[q.id] for q in Q2017.questions[:index] if answers and q.id in answers}
    number, total = position(Q2017, before, index)
    return f"Câu {number}/{total}\n"


def order(answers: dict[str, int | str]) -> list[int]:
    return [i for i, question in enumerate(Q2017.questions) if question.id in answers]


async def answer_all(user: FakeUser, answers: dict[str, int | str], within: float = 10) -> None:
    """From the first question on: press each value's button (type the texts), in order."""
    for index in order(answers):
        message = await user.expect(prompt(index, answers), within=within)
        value = answers[Q2017.questions[index].id]
        if isinstance(value, str):
            user.send(value)
        else:
            user.press_value(value, message)
    await user.expect(THANKS, within=within)


async def stored_answers(database: Database) -> list[dict[str, int | str]]:
    """The stored responses once the held ones are published (as on the next day)."""
    await publish_held(database)
    async with database.transaction() as session:
        responses = (await session.scalars(select(Response.id).order_by(Response.id))).all()
        stored = []
        for response_id in responses:
            rows = await session.scalars(
                select(ResponseAnswer).where(ResponseAnswer.response_id == response_id)
            )
            stored.append({a.item_id: a.value if a.text is None else a.text for a in rows})
        return stored
