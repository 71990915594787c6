"""`python -m bot sessions expire`: end idle surveys now (the bot does it every hour)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.cli.common import Subparsers
    from bot.database import Database
    from bot.settings import Settings


async def cmd_sessions_expire(args, settings: Settings, database: Database) -> int:
    from bot.clock import utc_now
    from handlers.survey.store import expire_idle_sessions

    idle = timedelta(days=settings.survey.idle_days)
    async with database.transaction() as session:
        ended = await expire_idle_sessions(session, utc_now(), idle, settings.zone)
    print(f"{ended} idle surveys ended (counted as expired)")
    return 0


def register(subparsers: Subparsers) -> None:
    sessions = subparsers.add_parser(
        "sessions",
        help="survey sessions",
        description="Survey sessions: the conversations under way.",
    ).add_subparsers(dest="action", required=True)
    sessions.add_parser(
        "expire",
        help="end idle surveys (counted as expired)",
        description="End every survey idle for longer than SURVEY_IDLE_DAYS; it is "
        "counted as expired in the funnel and its answers are deleted.",
    ).set_defaults(func=cmd_sessions_expire)
