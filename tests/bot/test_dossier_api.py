"""POST /api/v1/dossiers over real loopback HTTP: keys, scopes, limits, per-record errors."""

from __future__ import annotations

import socket
from contextlib import asynccontextmanager

import aiohttp
from sqlalchemy import func, select

from bot.dossiers.api import add_dossier_routes
from bot.dossiers.keys import create_key, revoke_key
from bot.models import ApiKey, Dossier, Service, StartCode
from bot.web import build_app, start_server
from tests.builders import FakeClock, seed_catalog
from tests.dossier_helpers import dossier_settings, record, vn_time


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@asynccontextmanager
async def api(database, **dossier):
    app = build_app(database)
    add_dossier_routes(
        app, database, dossier_settings(database, **dossier), FakeClock(vn_time(2027, 2, 1))
    )
    port = free_port()
    runner = await start_server(app, "127.0.0.1", port)
    try:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        await runner.cleanup()


async def keys(database) -> tuple[str, str]:
    """A key of the commune (DNAI-XTEST) and one of the province office (DNAI-STP)."""
    await seed_catalog(database)
    async with database.transaction() as session:
        commune = await create_key(session, "DNAI-XTEST", vn_time(2027, 1, 1), "one-stop")
        province = await create_key(session, "DNAI-STP", vn_time(2027, 1, 1))
    return commune, province


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def count_dossiers(database) -> int:
    async with database.transaction() as session:
        return await session.scalar(select(func.count()).select_from(Dossier))


async def test_good_records_are_kept_and_bad_ones_rejected_with_reasons(database):
    commune, _ = await keys(database)
    batch = [
        record("OK-1", agency=None),
        record("BAD-PHONE", phone="12345"),
        record("BAD-STATE", state=11, appointment_date="31/02/2027"),
        {"code": "NEW-BUT-INCOMPLETE", "state": 2},
        record("OK-2", procedure_code="HT-MOI", procedure_name="Thủ tục mới", field="Hộ tịch"),
        record("OK-1"),
    ]
    async with api(database) as client:
        response = await client.post(
            "/api/v1/dossiers", json={"dossiers": batch}, headers=bearer(commune)
        )
        body = await response.json()
    assert response.status == 200
    results = body["results"]
    assert [r["status"] for r in results] == [
        "created",
        "rejected",
        "rejected",
        "rejected",
        "created",
        "rejected",
    ]
    assert results[1]["errors"] == ["phone: not a Vietnamese phone number (expected 0… or +84…)"]
    assert "12345" not in str(results[1])  # the value is never echoed
    assert set(results[2]["errors"]) == {
        "state: must be a number from 1 to 10",
        "appointment_date: not a date (use YYYY-MM-DD or DD/MM/YYYY)",
    }
    assert results[3]["errors"] == [
        "procedure_name: required for a new dossier",
        "received_at: required for a new dossier",
        "appointment_date: required for a new dossier",
    ]
    assert results[5]["errors"] == ["code: appears twice"]
    assert body["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 4}
    assert (
        len(results[0]["start_code"]) == 10 and results[0]["start_code"] != results[4]["start_code"]
    )
    async with database.transaction() as session:
        stored = {d.code: d for d in await session.scalars(select(Dossier))}
        assert set(stored) == {"OK-1", "OK-2"}
        assert stored["OK-1"].phone == "84912345678"
        new_service = await session.scalar(select(Service).where(Service.code == "HT-MOI"))
        code = await session.get(StartCode, results[4]["start_code"])
    assert new_service.name == "Thủ tục mới"
    assert (code.dossier_id, code.service_id, code.single_use) == (
        stored["OK-2"].id,
        new_service.id,
        True,
    )


async def test_upsert_is_idempotent_and_state_changes_are_partial(database):
    commune, _ = await keys(database)
    async with api(database) as client:
        first = await (
            await client.post("/api/v1/dossiers", json=[record("A")], headers=bearer(commune))
        ).json()
        again = await (
            await client.post("/api/v1/dossiers", json=[record("A")], headers=bearer(commune))
        ).json()
        change = await (
            await client.post(
                "/api/v1/dossiers",
                json=[{"code": "A", "state": 9, "state_changed_at": "2027-02-03T10:00:00+07:00"}],
                headers=bearer(commune),
            )
        ).json()
    assert again["results"][0]["status"] == "unchanged"
    assert again["results"][0]["start_code"] == first["results"][0]["start_code"]
    assert change["results"][0]["status"] == "updated"
    async with database.transaction() as session:
        stored = await session.scalar(select(Dossier).where(Dossier.code == "A"))
    assert (stored.state, stored.citizen_name, stored.watch_date) == (9, "Nguyễn Văn An", None)
    assert stored.finished_at == vn_time(2027, 2, 3, 10)


async def test_missing_wrong_or_revoked_key_is_refused_and_nothing_stored(database):
    commune, _ = await keys(database)
    wrong = commune[:-4] + ("AAAA" if not commune.endswith("AAAA") else "BBBB")
    async with database.transaction() as session:
        other = await create_key(session, "DNAI-XTEST", vn_time(2027, 1, 1))
        await revoke_key(session, other.split(".")[0].removeprefix("sipas_"), vn_time(2027, 1, 2))
    async with api(database) as client:
        for headers in ({}, bearer(wrong), bearer(other), {"X-Api-Key": "nonsense"}):
            response = await client.post("/api/v1/dossiers", json=[record("X")], headers=headers)
            assert response.status == 401, headers
            assert response.headers["WWW-Authenticate"] == "Bearer"
        ok = await client.post(
            "/api/v1/dossiers", json=[record("X")], headers={"X-Api-Key": commune}
        )
        assert ok.status == 200
    assert await count_dossiers(database) == 1


async def test_a_key_writes_only_its_own_agency(database):
    commune, province = await keys(database)
    async with api(database) as client:
        await client.post("/api/v1/dossiers", json=[record("MINE")], headers=bearer(commune))
        response = await client.post(
            "/api/v1/dossiers",
            json=[
                {"code": "MINE", "state": 10},  # the commune's dossier
                record("THEIRS"),  # names the commune as its agency
                record("OWN", agency=None, procedure_code="TP-LLTP"),
            ],
            headers=bearer(province),
        )
        body = await response.json()
    assert [r["status"] for r in body["results"]] == ["rejected", "rejected", "created"]
    assert body["results"][0]["errors"] == ["code: not writable with this key"]
    assert body["results"][1]["errors"] == ["agency: not writable with this key"]
    async with database.transaction() as session:
        mine = await session.scalar(select(Dossier).where(Dossier.code == "MINE"))
        codes = set(await session.scalars(select(Dossier.code)))
    assert mine.state == 4  # untouched
    assert codes == {"MINE", "OWN"}


async def test_body_size_and_shape_limits(database):
    commune, _ = await keys(database)
    async with api(database, api_max_body_bytes=2048, api_max_records=3) as client:
        big = [record(f"B{i}", delay_reason="x" * 900) for i in range(3)]
        response = await client.post("/api/v1/dossiers", json=big, headers=bearer(commune))
        assert response.status == 413
        many = [{"code": f"M{i}", "state": 2} for i in range(4)]
        response = await client.post("/api/v1/dossiers", json=many, headers=bearer(commune))
        assert response.status == 413
        response = await client.post("/api/v1/dossiers", data=b"{not json", headers=bearer(commune))
        assert response.status == 400
    assert await count_dossiers(database) == 0


async def test_keys_are_stored_hashed(database):
    commune, _ = await keys(database)
    secret = commune.split(".", 1)[1]
    async with database.transaction() as session:
        rows = (await session.scalars(select(ApiKey))).all()
    assert all(secret not in (row.secret_hash + row.key_id) for row in rows)
    assert len(rows[0].secret_hash) == 64
