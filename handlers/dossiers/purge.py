"""Personal data kept no longer than needed: the retention purge.

Once a dossier has been closed (rejected, withdrawn, stopped or returned) for the
retention period, its citizen's name, phone number and chat link are erased, from
the dossier and from its apology notices. Everything else stays (codes, dates,
states, notices' other fields), so lateness figures survive. Failed `/hoso`
attempts (which name a chat) are kept only for the day they are counted in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import local_date
from handlers.dossiers import store


@dataclass(frozen=True)
class PurgeReport:
    dossiers: int
    notices: int
    link_failures: int


async def purge(
    session: AsyncSession, now: datetime, retention_days: int, zone: tzinfo
) -> PurgeReport:
    dossiers, notices = await store.erase_closed_before(
        session, now - timedelta(days=retention_days), now
    )
    failures = await store.delete_link_failures_before(
        session, local_date(now, zone) - timedelta(days=1)
    )
    return PurgeReport(dossiers, notices, failures)
