"""Running the real Zalo channels in-process, on one web server, against the fakes."""

from __future__ import annotations

import io
import logging
import socket
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

from sqlalchemy import func, select

from bot.channels import zalo_bot, zalo_oa
from bot.cli import _secrets
from bot.database import Database
from bot.inbound import InboundProcessor
from bot.logs import QUIET_LOGGERS, configure_logging
from bot.models import Chat, ProcessedUpdate, Response, ResponseAnswer
from bot.questionnaire import Question
from bot.settings import (
    Settings,
    SurveySettings,
    TelegramSettings,
    ZaloBotSettings,
    ZaloOASettings,
)
from bot.web import build_app, start_server
from handlers.survey import position
from tests.builders import QUESTIONNAIRES, TRANSLATOR, FakeClock, make_processor, publish_held
from tests.fakes.zalo_bot import FakeZaloBot
from tests.fakes.zalo_oa import APP_ID, FIRST_REFRESH_TOKEN, OA_SECRET_KEY, SECRET_KEY, FakeZaloOA

BOT_SECRET = "zalo-bot-webhook-secret_0123"
Q2017 = QUESTIONNAIRES["sipas-2017"]
THANKS = TRANSLATOR("vi", "thanks").splitlines()[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def bot_settings(fake: FakeZaloBot, mode: str = "polling") -> ZaloBotSettings:
    return ZaloBotSettings(
        token=fake.token,
        api_base_url=fake.base_url,
        mode=mode,
        webhook_secret=BOT_SECRET,
        poll_timeout=1,
    )


def oa_settings(fake: FakeZaloOA, **extra: object) -> ZaloOASettings:
    return ZaloOASettings(
        app_id=APP_ID,
        secret_key=SECRET_KEY,
        refresh_token=FIRST_REFRESH_TOKEN,
        webhook_secret_key=OA_SECRET_KEY,
        api_base_url=fake.base_url,
        oauth_url=fake.oauth_url,
        zns_url=fake.zns_url,
        **extra,
    )


def make_settings(
    database: Database,
    *,
    bot: ZaloBotSettings | None = None,
    oa: ZaloOASettings | None = None,
    telegram: TelegramSettings | None = None,
) -> Settings:
    port = free_port()
    return Settings(
        database_url=database.url,
        http_listen=f"127.0.0.1:{port}",
        public_base_url=f"http://127.0.0.1:{port}",
        telegram=telegram or TelegramSettings(bot_token=None),
        survey=SurveySettings(),
        zalo_bot=bot or ZaloBotSettings(token=None),
        zalo_oa=oa or ZaloOASettings(app_id=None),
    )


@dataclass
class Running:
    settings: Settings
    processor: InboundProcessor
    bot: zalo_bot.ZaloBotChannel | None
    oa: zalo_oa.ZaloOAChannel | None

    @property
    def bot_webhook(self) -> str:
        return f"{self.settings.public_base_url}{zalo_bot.WEBHOOK_PATH}"

    @property
    def oa_webhook(self) -> str:
        return f"{self.settings.public_base_url}{zalo_oa.WEBHOOK_PATH}"


@asynccontextmanager
async def running(database: Database, settings: Settings, clock: FakeClock | None = None):
    """The configured Zalo channels started on the project's web server."""
    processor = make_processor(database, clock or FakeClock(), settings)
    app = build_app(database)
    bot = zalo_bot.build(settings, processor, app)
    oa = zalo_oa.build(settings, processor, app)
    host_port = settings.http_host_port
    assert host_port is not None
    runner = await start_server(app, *host_port)
    channels = [channel for channel in (bot, oa) if channel is not None]
    for channel in channels:
        await channel.start()
    try:
        yield Running(settings, processor, bot, oa)
    finally:
        for channel in reversed(channels):
            await channel.stop()
        await runner.cleanup()


def plan(gate: int = 1) -> dict[str, int | str]:
    """A full set of answers: every Likert level and "no opinion" appear; the gate as given."""
    levels = [5, 4, 3, 2, 1, 0]
    answers: dict[str, int | str] = {}
    for index, question in enumerate(Q2017.questions):
        if question.factor in ("F1", "F2", "F3", "F4"):
            answers[question.id] = levels[index % 6]
    answers["feedback_given"] = gate
    if gate == 1:
        answers.update({"F5.1": 4, "F5.2": 5, "F5.3": 2, "F5.4": 0})
    answers.update({"gender": 2, "age_band": 5, "education": 3, "occupation": 1, "ethnicity": 1})
    answers["suggestion"] = "Cần thêm ghế ngồi chờ ở bộ phận một cửa."
    return answers


def typed(question: Question, value: int | str) -> str:
    """What a citizen types for `value`: the option's number, or the no-opinion label."""
    if isinstance(value, str):
        return value
    if value == 0:
        return question.label(0, "vi")
    return str([option.value for option in question.options].index(value) + 1)


def prompt(index: int, answers: dict[str, int | str] | None = None) -> str:
    """The progress line of question ``index``, given the plan's answers before it
    (a gate answered "no" takes its questions out of the count)."""
    before = {q.id: answers[q.id] for q in Q2017.questions[:index] if answers and q.id in answers}
    number, total = position(Q2017, before, index)
    return f"Câu {number}/{total}\n"


def asked(answers: dict[str, int | str]) -> list[int]:
    return [i for i, question in enumerate(Q2017.questions) if question.id in answers]


async def stored_responses(database: Database) -> list[dict]:
    """The stored responses once the held ones are published (as on the next day)."""
    await publish_held(database)
    async with database.transaction() as session:
        responses = (await session.scalars(select(Response).order_by(Response.id))).all()
        stored = []
        for response in responses:
            rows = await session.scalars(
                select(ResponseAnswer).where(ResponseAnswer.response_id == response.id)
            )
            answers = {a.item_id: a.value if a.text is None else a.text for a in rows}
            stored.append({"channel": response.channel_kind, "answers": answers})
        return stored


async def count_rows(database: Database, model) -> int:
    async with database.transaction() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def nothing_stored(database: Database) -> bool:
    return (
        await count_rows(database, Chat) == 0 and await count_rows(database, ProcessedUpdate) == 0
    )


@contextmanager
def production_logging(settings: Settings, capture: logging.Handler) -> Iterator[io.StringIO]:
    """The bot's own logging set-up at DEBUG (with its redaction of the settings' secrets),
    writing to the yielded buffer; `capture` (pytest's handler) keeps the raw records."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    configure_logging("DEBUG", _secrets(settings))
    buffer = io.StringIO()
    root.handlers[0].setStream(buffer)
    root.addHandler(capture)
    try:
        yield buffer
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name, old in quiet.items():
            logging.getLogger(name).setLevel(old)


def own_records(capture) -> str:
    """What the bot's own loggers said, unredacted: it must not need the redactor."""
    return "\n".join(
        record.getMessage() + (record.exc_text or "")
        for record in capture.records
        if record.name.startswith(("bot", "handlers"))
    )
