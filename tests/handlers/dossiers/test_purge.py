"""Retention: names, phones and chat links of long-closed dossiers go; nothing else does."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update

from bot.models import ApologyNotice, Chat, Dossier, DossierLinkFailure
from tests.builders import seed_catalog
from tests.dossier_helpers import dossier, notices, record, scan_at, upsert, vn_time


async def test_purge_removes_what_it_must_and_nothing_else(database):
    await seed_catalog(database)
    await upsert(
        database,
        [
            record("OLD-RETURNED"),
            record("OLD-REJECTED"),
            record("OLD-OPEN"),
            record("OLD-DONE"),
            record("RECENT"),
        ],
        vn_time(2027, 2, 1),
    )
    await scan_at(database, vn_time(2027, 2, 4))  # every one of them is late: 5 notices
    async with database.transaction() as session:
        chat = Chat(channel="telegram", chat_key="1", created_at=vn_time(2027, 2, 1))
        session.add(chat)
        await session.flush()
        await session.execute(update(Dossier).values(chat_id=chat.id))
        session.add_all(
            [
                DossierLinkFailure(chat_id=chat.id, dossier_code="X", day=date(2028, 3, 1)),
                DossierLinkFailure(chat_id=chat.id, dossier_code="X", day=date(2028, 3, 5)),
            ]
        )
    await upsert(
        database,
        [
            {"code": "OLD-RETURNED", "state": 10, "state_changed_at": "2027-02-10T10:00:00+07:00"},
            {"code": "OLD-REJECTED", "state": 3, "state_changed_at": "2027-02-10T10:00:00+07:00"},
            {"code": "OLD-DONE", "state": 9, "state_changed_at": "2027-02-10T10:00:00+07:00"},
            {"code": "RECENT", "state": 10, "state_changed_at": "2027-12-01T10:00:00+07:00"},
        ],
        vn_time(2027, 12, 1),
    )
    # 5 March 2028 with the default 365 days: closed before 6 March 2027 is purged.
    report = await scan_at(database, vn_time(2028, 3, 5))
    assert report.purged == 2
    for code in ("OLD-RETURNED", "OLD-REJECTED"):
        gone = await dossier(database, code)
        assert (gone.citizen_name, gone.phone, gone.chat_id) == (None, None, None)
        assert gone.purged_at is not None
        assert gone.state in (10, 3) and gone.due_date == date(2027, 2, 3)  # the facts stay
    for code in ("OLD-OPEN", "OLD-DONE", "RECENT"):
        kept = await dossier(database, code)
        assert (kept.citizen_name, kept.phone) == ("Nguyễn Văn An", "84912345678")
        assert kept.chat_id is not None and kept.purged_at is None
    names = {n.dossier_code: n.citizen_name for n in await notices(database)}
    assert names == {
        "OLD-RETURNED": None,
        "OLD-REJECTED": None,
        "OLD-OPEN": "Nguyễn Văn An",
        "OLD-DONE": "Nguyễn Văn An",
        "RECENT": "Nguyễn Văn An",
    }
    async with database.transaction() as session:
        days = list(await session.scalars(select(DossierLinkFailure.day)))
        assert await session.scalar(select(ApologyNotice.dossier_code).limit(1)) is not None
    assert days == [date(2028, 3, 5)]
    # Running it again changes nothing.
    assert (await scan_at(database, vn_time(2028, 3, 6))).purged == 0
