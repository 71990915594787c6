"""Builders of test data and a scripted citizen that talks to the real inbound path."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.cli.compose import build_processor
from bot.database import Database
from bot.i18n import Translator
from bot.inbound import InboundProcessor
from bot.models import Agency, PooledResponse, Service
from bot.questionnaire import load_questionnaires
from bot.scheduler import Scheduler, jobs
from bot.settings import Settings, SurveySettings, TelegramSettings
from bot.textnorm import fold
from handlers.messages import Inbound, InboundKind, Outbound
from handlers.survey.publication import publish_due
from handlers.survey.store import create_codes

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")  # the TIMEZONE default, which the tests keep

QUESTIONNAIRES = load_questionnaires()
TRANSLATOR = Translator.load()
_update_ids = itertools.count(1)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_settings(database: Database, **survey: object) -> Settings:
    return Settings(
        database_url=database.url,
        telegram=TelegramSettings(bot_token=None),
        survey=SurveySettings(**survey),
    )


def make_processor(
    database: Database,
    clock: Callable[[], datetime] | None = None,
    settings: Settings | None = None,
    questionnaires: dict | None = None,
    translator: Translator = TRANSLATOR,
    **survey,
) -> InboundProcessor:
    """The inbound path with the real use cases, as the composition root builds it;
    `survey` settings apply when no `settings` are given."""
    return build_processor(
        database,
        settings or make_settings(database, **survey),
        QUESTIONNAIRES if questionnaires is None else questionnaires,
        translator,
        clock or FakeClock(),
    )


def make_scheduler(database: Database, settings: Settings, clock: FakeClock) -> Scheduler:
    """The bot's scheduled jobs (bot.scheduler), ticked by hand with `clock`."""
    processor = make_processor(database, clock, settings)
    listed = jobs(database, settings, processor, QUESTIONNAIRES, TRANSLATOR)
    return Scheduler(database, settings, listed, clock=clock)


async def publish_held(database: Database, now: datetime | None = None) -> int:
    """Run the hourly publication at `now`, by default early on the day after the latest
    held response: chat responses reach `responses` only then (handlers.survey.publication)."""
    settings = make_settings(database)
    if now is None:
        async with database.transaction() as session:
            latest = await session.scalar(select(func.max(PooledResponse.response_date)))
        if latest is None:
            return 0
        now = datetime.combine(latest + timedelta(days=1), time(0, 30), tzinfo=settings.zone)
    return await publish_due(database, settings, QUESTIONNAIRES, now)


@dataclass(frozen=True)
class Catalog:
    agency_id: int
    service_id: int
    agency_code: str = "DNAI-XTEST"
    service_code: str = "HT-KS"


async def seed_catalog(database: Database) -> Catalog:
    """One commune agency with two services, one province agency, one merged-away agency."""
    async with database.transaction() as session:
        rows = [
            Agency(code="DNAI-XTEST", name="UBND xã Tân Lợi", level="commune"),
            Agency(code="DNAI-STP", name="Sở Tư pháp tỉnh Đồng Nai", level="province"),
            Agency(
                code="BPHUOC-STP",
                name="Sở Tư pháp tỉnh Bình Phước",
                level="province",
                valid_to=datetime(2025, 6, 30).date(),
                successor_code="DNAI-STP",
            ),
            Service(code="HT-KS", name="Đăng ký khai sinh", level="commune"),
            Service(code="HT-KH", name="Đăng ký kết hôn", level="commune"),
            Service(code="TP-LLTP", name="Cấp phiếu lý lịch tư pháp", level="province"),
        ]
        for row in rows:
            row.name_folded = fold(row.name)
        session.add_all(rows)
        await session.flush()
        agency = await session.scalar(select(Agency.id).where(Agency.code == "DNAI-XTEST"))
        service = await session.scalar(select(Service.id).where(Service.code == "HT-KS"))
    return Catalog(agency, service)


async def make_code(
    database: Database, catalog: Catalog, *, single_use: bool = True, now: datetime | None = None
) -> str:
    async with database.transaction() as session:
        (code,) = await create_codes(
            session,
            agency_code=catalog.agency_code,
            service_code=catalog.service_code,
            count=1,
            single_use=single_use,
            now=now or datetime(2026, 11, 1, tzinfo=UTC),
            length=10,
        )
    return code


class Citizen:
    """Sends messages the way a channel adapter would and keeps what came back."""

    def __init__(
        self, processor: InboundProcessor, chat_key: str = "1001", channel: str = "telegram"
    ):
        self.processor = processor
        self.chat_key = chat_key
        self.channel = channel
        self.replies: list[Outbound] = []

    async def _send(
        self, kind: InboundKind, text: str, update_key: str | None = None
    ) -> list[Outbound]:
        key = update_key or f"{self.channel}:{next(_update_ids)}"
        replies = await self.processor.process(
            Inbound(self.channel, self.chat_key, kind, text, key)
        )
        self.replies = replies or self.replies
        if replies:
            await self.processor.confirm_delivered(self.channel, self.chat_key)
        return replies

    async def say(self, text: str, update_key: str | None = None) -> list[Outbound]:
        return await self._send(InboundKind.TEXT, text, update_key)

    async def press(self, payload: str) -> list[Outbound]:
        return await self._send(InboundKind.BUTTON, payload)

    async def send_sticker(self) -> list[Outbound]:
        return await self._send(InboundKind.OTHER, "")

    @property
    def last(self) -> Outbound:
        return self.replies[-1]

    def button(self, value: int | str) -> str:
        """The payload of the last question's button for `value` (a digit, or 's' to skip)."""
        for choice in self.last.choices:
            if choice.payload.endswith(f".{value}"):
                return choice.payload
        raise AssertionError(f"no button for {value!r} in {self.last}")

    async def tap(self, value: int | str) -> list[Outbound]:
        return await self.press(self.button(value))

    def text(self) -> str:
        return "\n".join(reply.text for reply in self.replies)
