"""Builders for officials' tests: a catalogue with children and merges, invitations,
responses on given days, ended chat sessions, and instants in Vietnamese local time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select

from bot.database import Database
from bot.models import Agency, Official, OfficialDigest, OutboxMessage, SurveyFunnel
from bot.settings import OfficialSettings, Settings, SurveySettings, TelegramSettings
from bot.textnorm import fold
from handlers.officials import access
from handlers.survey.store.responses import store_response
from tests.builders import QUESTIONNAIRES, ZONE, seed_catalog

Q = "sipas-2017"
F1_TO_F4 = [
    *(f"F1.{i}" for i in range(1, 5)),
    *(f"F2.{i}" for i in range(1, 6)),
    *(f"F3.{i}" for i in range(1, 7)),
    *(f"F4.{i}" for i in range(1, 4)),
]
# DNAI-STP's scope: itself, BPHUOC-STP (merged into it), its unit DNAI-STP-TTTG, and
# BPHUOC-PB (a unit of the merged agency). Not DNAI-SYT (a sibling) nor DNAI-XTEST.
STP_SCOPE = ("BPHUOC-PB", "BPHUOC-STP", "DNAI-STP", "DNAI-STP-TTTG")
LINK_SECRET = "a-link-secret-for-tests-only-0123456789"


def vn(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """An instant given in Vietnamese local time (UTC+7), as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


def officials_settings(database: Database, **officials: object) -> Settings:
    return Settings(
        database_url=database.url,
        telegram=TelegramSettings(bot_token=None),
        survey=SurveySettings(),
        officials=OfficialSettings(**officials),
    )


async def seed_agencies(database: Database) -> dict[str, int]:
    """`seed_catalog` plus children and a sibling department; agency ids by code."""
    await seed_catalog(database)
    async with database.transaction() as session:
        for code, name, parent in [
            ("DNAI-STP-TTTG", "Trung tâm Trợ giúp pháp lý", "DNAI-STP"),
            ("BPHUOC-PB", "Phòng Bổ trợ tư pháp (Bình Phước)", "BPHUOC-STP"),
            ("DNAI-SYT", "Sở Y tế tỉnh Đồng Nai", None),
        ]:
            session.add(
                Agency(
                    code=code,
                    name=name,
                    name_folded=fold(name),
                    level="province",
                    parent_code=parent,
                )
            )
        await session.flush()
        return dict((await session.execute(select(Agency.code, Agency.id))).all())


async def invite(
    database: Database,
    role: str = access.OFFICIAL,
    agency: str | None = "DNAI-STP",
    *,
    now: datetime,
    **settings: object,
) -> str:
    """A one-time invitation code, as `python -m bot officials invite` makes it."""
    async with database.transaction() as session:
        _, code = await access.create_invitation(
            session,
            role=role,
            agency_code=agency,
            now=now,
            settings=OfficialSettings(**settings),
        )
    return code


def all_at(value: int) -> dict[str, int]:
    """Every F1-F4 criterion at `value`; the feedback gate answered "no" (F5 skipped)."""
    return {**dict.fromkeys(F1_TO_F4, value), "feedback_given": 2}


async def respond(database: Database, ids: dict[str, int], agency: str, day: date, answers):
    async with database.transaction() as session:
        await store_response(
            session,
            QUESTIONNAIRES,
            questionnaire=Q,
            agency_id=ids[agency],
            service_id=None,
            level="province",
            day=day,
            channel_kind="telegram",
            answers=answers,
        )


async def funnel(database, rows) -> None:
    """Ended chat sessions counted as the survey counts them (no service chosen)."""
    async with database.transaction() as session:
        await session.execute(
            insert(SurveyFunnel),
            [
                {
                    "day": day,
                    "agency_key": agency,
                    "service_key": 0,
                    "questionnaire": "sipas-2017",
                    "channel_kind": "telegram",
                    "phase": phase,
                    "step": step,
                    "outcome": outcome,
                    "sessions": sessions,
                }
                for day, agency, phase, step, outcome, sessions in rows
            ],
        )


async def officials(database: Database) -> list[Official]:
    async with database.transaction() as session:
        return list((await session.scalars(select(Official).order_by(Official.id))).all())


async def digests(database: Database) -> list[OfficialDigest]:
    async with database.transaction() as session:
        rows = await session.scalars(select(OfficialDigest).order_by(OfficialDigest.id))
        return list(rows.all())


async def digest_outbox(database: Database) -> list[OutboxMessage]:
    async with database.transaction() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "digest").order_by(OutboxMessage.id)
        )
        return list(rows.all())


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())
