"""Builders for dossier tests: records as a one-stop system sends them, and a scan clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.database import Database
from bot.jobs.dossiers import run_due
from bot.models import ApologyNotice, Dossier, OutboxMessage
from bot.settings import DossierSettings, OutboxSettings, Settings, SurveySettings, TelegramSettings
from handlers.dossiers.store import Outcome, upsert_dossiers
from handlers.dossiers.workdays import WorkCalendar
from tests.builders import ZONE

CALENDAR = WorkCalendar()
PHONE = "0912345678"  # stored as 84912345678; last four 5678


def vn_time(year: int, month: int, day: int, hour: int = 9) -> datetime:
    """An instant given in Vietnamese local time (UTC+7)."""
    return datetime(year, month, day, hour, tzinfo=ZONE).astimezone(UTC)


def dossier_settings(database: Database, **dossier: Any) -> Settings:
    return Settings(
        database_url=database.url,
        telegram=TelegramSettings(bot_token=None),
        survey=SurveySettings(),
        dossier=DossierSettings(**dossier),
        outbox=OutboxSettings(),
    )


def record(code: str, **fields: Any) -> dict[str, Any]:
    """A new dossier of the seeded commune for birth registration, received Mon 1 Feb 2027."""
    values: dict[str, Any] = {
        "code": code,
        "agency": "DNAI-XTEST",
        "procedure_code": "HT-KS",
        "procedure_name": "Đăng ký khai sinh",
        "field": "Hộ tịch",
        "citizen_name": "Nguyễn Văn An",
        "phone": PHONE,
        "received_at": "2027-02-01T08:30:00+07:00",
        "appointment_date": "2027-02-03",
        "state": 4,
    }
    values.update(fields)
    return {key: value for key, value in values.items() if value is not None}


async def upsert(
    database: Database,
    records: list[dict[str, Any]],
    now: datetime,
    *,
    scope: int | None = None,
) -> list[Outcome]:
    async with database.transaction() as session:
        return await upsert_dossiers(
            session,
            list(enumerate(records)),
            now=now,
            calendar=CALENDAR,
            zone=ZONE,
            scope_agency_id=scope,
        )


async def scan_at(database: Database, now: datetime, **dossier: Any):
    return await run_due(database, dossier_settings(database, **dossier), now)


async def dossier(database: Database, code: str) -> Dossier:
    async with database.transaction() as session:
        row = await session.scalar(select(Dossier).where(Dossier.code == code))
        assert row is not None
        return row


async def notices(database: Database) -> list[ApologyNotice]:
    async with database.transaction() as session:
        return list((await session.scalars(select(ApologyNotice).order_by(ApologyNotice.id))).all())


async def outbox(database: Database) -> list[OutboxMessage]:
    async with database.transaction() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())
