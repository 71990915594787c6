"""The dossiers' start-up warnings (their tick is driven in tests/bot/test_scheduler.py)."""

from __future__ import annotations

from bot.jobs.dossiers import warn_unready_notices
from tests.builders import seed_catalog
from tests.dossier_helpers import dossier_settings, record, upsert, vn_time


async def test_start_warns_of_agencies_without_a_signer_and_an_unreviewed_reason(database, caplog):
    import logging

    from bot.models import AgencyNoticeSettings

    catalog = await seed_catalog(database)
    await upsert(database, [record("OPEN")], vn_time(2027, 2, 1))
    settings = dossier_settings(database)
    with caplog.at_level(logging.WARNING, logger="bot.jobs.dossiers"):
        await warn_unready_notices(database, settings)
    warnings = [r.getMessage() for r in caplog.records if r.name == "bot.jobs.dossiers"]
    assert any(
        "1 agencies with open dossiers have no signer or place" in m and m.endswith("DNAI-XTEST")
        for m in warnings
    ), warnings
    assert any("reason_fallback" in m for m in warnings)
    assert not any("Nguyễn" in m or "OPEN" in m or "5678" in m for m in warnings)

    caplog.clear()
    async with database.transaction() as session:
        session.add(
            AgencyNoticeSettings(
                agency_id=catalog.agency_id, place="Tân Lợi", signer_name="Trần Thị Bình"
            )
        )
    with caplog.at_level(logging.WARNING, logger="bot.jobs.dossiers"):
        await warn_unready_notices(database, settings)
    assert not any("signer" in r.getMessage() for r in caplog.records)


def test_agency_lists_are_bounded():
    from handlers.dossiers.apologies import code_list

    codes = [f"A{i:02d}" for i in range(12)]
    assert code_list(codes) == ", ".join(codes[:10]) + " (+2)"
    assert code_list(codes[:3]) == "A00, A01, A02"
