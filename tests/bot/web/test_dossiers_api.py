"""POST /api/v1/dossiers over real loopback HTTP: keys, scopes, limits, per-record errors."""

from __future__ import annotations

import json
import socket
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import aiohttp
import jsonschema
import pytest
from sqlalchemy import func, select

from bot.catalog import import_services
from bot.models import Agency, ApiKey, Dossier, Service, StartCode
from bot.web import build_app, start_server
from bot.web.dossiers_api import PATH as PATH_
from bot.web.dossiers_api import __file__ as API_FILE
from bot.web.dossiers_api import add_dossier_routes
from handlers.dossiers.keys import create_key, revoke_key
from handlers.survey.store import SurveyStore
from tests.builders import FakeClock, seed_catalog
from tests.dossier_helpers import dossier_settings, record, vn_time

SCHEMA = json.loads((Path(API_FILE).parent / "dossiers_api.schema.json").read_text("utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@asynccontextmanager
async def api(database, now=None, **dossier):
    """The dossier API on loopback; its clock reads `now` (Mon 1 Feb 2027 09:00 local)."""
    app = build_app(database)
    clock = FakeClock(now or vn_time(2027, 2, 1))
    add_dossier_routes(app, database, dossier_settings(database, **dossier), clock)
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


async def test_a_batch_with_every_record_rejected_is_422_and_stores_nothing(database):
    commune, _ = await keys(database)
    batch = [
        record("OBJ", citizen_name={"ho": "Nguyễn"}),
        record("BOOL", state=True),
        {"code": True, "state": 2},
        record("SUP", phone="09¹2345678"),
        record("FAR", received_at="9999-12-31T23:00:00-05:00"),
        record("PAUSE", pauses=[{"from": "2027-02-01", "to": "9999-12-31"}]),
        record("NUL", citizen_name="Nguyễn\x00An"),
        record("SUR", citizen_name="Nguyễn\ud800"),
        "not an object",
    ]
    async with api(database) as client:
        response = await client.post(PATH_, json={"dossiers": batch}, headers=bearer(commune))
        body = await response.json()
    assert response.status == 422
    assert [(r["index"], r["status"]) for r in body["results"]] == [
        (i, "rejected") for i in range(len(batch))
    ]
    errors = [r["errors"] for r in body["results"]]
    assert errors[0] == ["citizen_name: Input should be a valid string"]
    assert errors[1] == ["state: must be a number from 1 to 10"]
    assert errors[2] == ["code: Input should be a valid string"]
    assert errors[3] == ["phone: not a Vietnamese phone number (expected 0… or +84…)"]
    assert errors[4] == ["received_at: must be between 2000 and 2100"]
    assert errors[5] == ["pauses.0.to: must be between 2000 and 2100"]
    assert errors[6] == ["citizen_name: contains a NUL character"]
    assert errors[7][0].startswith("citizen_name: ")
    assert errors[8] == ["record: must be an object"]
    assert "Nguyễn" not in str(body) and "2345678" not in str(body)
    assert await count_dossiers(database) == 0


async def test_deep_json_huge_numbers_and_other_encodings_are_400(database):
    commune, _ = await keys(database)
    async with api(database) as client:
        for body in (
            b"[" * 100_000 + b"]" * 100_000,
            b'{"dossiers": [{"code": "Z", "state": ' + b"9" * 5000 + b"}]}",
            '{"dossiers": [{"code": "Á"}]}'.encode("utf-16"),
            '{"dossiers": [{"code": "A", "citizen_name": "Lê"}]}'.encode("cp1258"),
        ):
            response = await client.post(PATH_, data=body, headers=bearer(commune))
            assert response.status == 400, body[:40]
            assert "error" in await response.json()
    assert await count_dossiers(database) == 0


# Real database failures, raised by a trigger, for a record that passed validation.
_TRIGGERS = {
    "sqlite": (
        [
            f"CREATE TRIGGER refuse_{event.lower()} BEFORE {event} ON dossiers "
            "WHEN NEW.citizen_name = 'REFUSED' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            for event in ("INSERT", "UPDATE")
        ],
        ["DROP TRIGGER refuse_insert", "DROP TRIGGER refuse_update"],
    ),
    "postgresql": (
        [
            "CREATE FUNCTION refuse_dossier() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.citizen_name = 'REFUSED' THEN RAISE EXCEPTION 'refused'; END IF; "
            "RETURN NEW; END $$",
            "CREATE TRIGGER refuse_dossier BEFORE INSERT OR UPDATE ON dossiers "
            "FOR EACH ROW EXECUTE FUNCTION refuse_dossier()",
        ],
        ["DROP TRIGGER refuse_dossier ON dossiers", "DROP FUNCTION refuse_dossier()"],
    ),
}


@asynccontextmanager
async def refusing_trigger(database, backend):
    create, drop = _TRIGGERS[backend]
    async with database.engine.begin() as connection:
        for statement in create:
            await connection.exec_driver_sql(statement)
    try:
        yield
    finally:
        async with database.engine.begin() as connection:
            for statement in drop:
                await connection.exec_driver_sql(statement)


async def test_a_record_the_database_refuses_costs_only_itself(database, backend):
    commune, _ = await keys(database)
    async with refusing_trigger(database, backend), api(database) as client:
        first = await client.post(
            PATH_,
            json=[record("A"), record("X", citizen_name="REFUSED"), record("B")],
            headers=bearer(commune),
        )
        second = await client.post(
            PATH_,
            json=[
                {"code": "A", "citizen_name": "REFUSED"},  # an update the database refuses
                {"code": "B", "state": 9},
                record("C", procedure_code="HT-NEW", procedure_name="Thủ tục mới"),
                record(
                    "D", procedure_code="HT-NEW2", procedure_name="Khác", citizen_name="REFUSED"
                ),
            ],
            headers=bearer(commune),
        )
        answers = [await first.json(), await second.json()]
    assert (first.status, second.status) == (200, 200)
    assert [r["status"] for r in answers[0]["results"]] == ["created", "rejected", "created"]
    assert answers[0]["results"][1]["errors"] == ["record: could not be stored"]
    assert [r["status"] for r in answers[1]["results"]] == [
        "rejected",
        "updated",
        "created",
        "rejected",
    ]
    async with database.transaction() as session:
        stored = {d.code: d for d in await session.scalars(select(Dossier))}
        services = set(await session.scalars(select(Service.code)))
        codes = await session.scalar(select(func.count()).select_from(StartCode))
    assert set(stored) == {"A", "B", "C"}
    assert stored["A"].citizen_name == "Nguyễn Văn An" and stored["B"].state == 9
    assert "HT-NEW" in services and "HT-NEW2" not in services  # rolled back with its record
    assert codes == 3


async def test_services_created_through_the_api_belong_to_the_key_agency(database, tmp_path):
    commune, province = await keys(database)
    async with api(database) as client:
        created = await client.post(
            PATH_,
            json=[record("N1", procedure_code="HT-MOI", procedure_name="Thủ tục mới")],
            headers=bearer(commune),
        )
        borrowed = await client.post(
            PATH_,
            json=[record("P1", agency=None, procedure_code="HT-MOI", procedure_name="Khác")],
            headers=bearer(province),
        )
        too_long = await client.post(
            PATH_,
            json=[record("N2", procedure_code="HT-DAI", procedure_name="x" * 256)],
            headers=bearer(commune),
        )
        assert (created.status, borrowed.status, too_long.status) == (200, 422, 422)
        assert (await borrowed.json())["results"][0]["errors"] == [
            "procedure_code: a procedure of another agency, not in the catalogue"
        ]
        assert (await too_long.json())["results"][0]["errors"] == [
            "procedure_name: at most 255 characters for a procedure not in the catalogue"
        ]

        async def menus() -> dict[str, set[str]]:
            async with database.transaction() as session:
                store = SurveyStore(session)
                agencies = {a.code: a for a in await session.scalars(select(Agency))}
                return {
                    code: {s.code for s in await store.services_for(agencies[code])}
                    for code in ("DNAI-XTEST", "DNAI-STP")
                }

        menu = await menus()
        assert "HT-MOI" in menu["DNAI-XTEST"] and "HT-MOI" not in menu["DNAI-STP"]

        # An operator's catalogue import makes it everyone's procedure.
        path = tmp_path / "services.csv"
        path.write_text("code,name\nHT-MOI,Thủ tục mới\n", encoding="utf-8")
        async with database.transaction() as session:
            await import_services(session, path)
        assert "HT-MOI" in (await menus())["DNAI-STP"]
        again = await client.post(
            PATH_,
            json=[record("P1", agency=None, procedure_code="HT-MOI")],
            headers=bearer(province),
        )
        assert again.status == 200
    async with database.transaction() as session:
        service = await session.scalar(select(Service).where(Service.code == "HT-MOI"))
    assert service.owner_agency_id is None


async def test_the_answer_gives_the_receipt_dates_and_follows_its_schema(database):
    commune, _ = await keys(database)
    batch = [
        # Received Wed 3 Feb 2027, 3 working days: Mon 15 Feb (Tết runs 4-10 Feb).
        record("TET", appointment_date=None, processing_days=3, received_at="03/02/2027 10:00"),
        record("GIVEN"),  # the appointment as given: Wed 3 Feb
        # A supplement pause from Tue 2 to Wed 3 Feb stopped one working day: Thu 11 Feb.
        record("PAUSED", pauses=[{"from": "02/02/2027", "to": "2027-02-03"}]),
        record("NO-SURVEY", procedure_code=None),  # no catalogue procedure, no survey code
        record("BAD", state=0),
    ]
    answers = []
    # Answered on Wed 3 Feb 18:00, after every receipt (a receipt in the future is refused).
    async with api(database, now=vn_time(2027, 2, 3, 18), api_max_body_bytes=4096) as client:
        first = await client.post(PATH_, json=batch, headers=bearer(commune))
        answers.append((first.status, await first.json()))
        change = [
            record("GIVEN"),
            {"code": "TET", "state": 5, "state_changed_at": "08/02/2027 09:00"},
        ]
        second = await client.post(PATH_, json=change, headers=bearer(commune))
        answers.append((second.status, await second.json()))
        for body, headers in (
            ([record("BAD", state=0)], bearer(commune)),  # 422
            ([record("X")], {}),  # 401
            (b"{", bearer(commune)),  # 400
            ([record(f"B{i}", delay_reason="x" * 900) for i in range(5)], bearer(commune)),  # 413
        ):
            sent = {"data": body} if isinstance(body, bytes) else {"json": body}
            response = await client.post(PATH_, headers=headers, **sent)
            answers.append((response.status, await response.json()))
    assert [status for status, _ in answers] == [200, 200, 422, 401, 400, 413]
    results = {result["code"]: result for result in answers[0][1]["results"]}
    assert results["TET"]["appointment_date"] == "2027-02-15" and "due_date" not in results["TET"]
    assert results["GIVEN"]["appointment_date"] == "2027-02-03"
    assert (results["PAUSED"]["appointment_date"], results["PAUSED"]["due_date"]) == (
        "2027-02-03",
        "2027-02-11",
    )
    assert results["NO-SURVEY"]["start_code"] is None
    assert "appointment_date" not in results["BAD"]
    async with database.transaction() as session:
        stored = await session.scalar(
            select(StartCode.code).join(Dossier).where(Dossier.code == "TET")
        )
    assert results["TET"]["start_code"] == stored  # the code to print on the receipt
    assert [(r["code"], r["status"], r["appointment_date"]) for r in answers[1][1]["results"]] == [
        ("GIVEN", "unchanged", "2027-02-03"),
        ("TET", "updated", "2027-02-15"),  # an open pause does not move the date yet
    ]

    for _, answer in answers:
        VALIDATOR.validate(answer)
    readme = (Path(API_FILE).parents[2] / "README.md").read_text("utf-8")
    example = readme.split("**The API's answer**", 1)[1].split("```json", 1)[1].split("```")[0]
    VALIDATOR.validate(json.loads(example))  # the documented example is a valid answer
    # Strict enough to notice a renamed, missing or extra field.
    for broken in (
        {**results["TET"], "appointment": "2027-02-15"},
        {key: value for key, value in results["TET"].items() if key != "appointment_date"},
        {**results["TET"], "appointment_date": "15/02/2027"},
        {**results["BAD"], "start_code": None},
    ):
        with pytest.raises(jsonschema.ValidationError):
            VALIDATOR.validate({"results": [broken], "counts": answers[0][1]["counts"]})


async def test_the_api_reads_the_time_formats_of_one_stop_exports(database):
    """Every format gives the same receipt: received Wed 3 Feb, due Mon 15 Feb (Tết)."""
    commune, _ = await keys(database)
    formats = {
        "SLASH": ("03/02/2027 10:00", vn_time(2027, 2, 3, 10)),
        "SECONDS": ("03/02/2027 10:00:30", vn_time(2027, 2, 3, 10) + timedelta(seconds=30)),
        "DASHES": ("03-02-2027 10:00", vn_time(2027, 2, 3, 10)),
        "ISO-SPACE": ("2027-02-03 10:00", vn_time(2027, 2, 3, 10)),
        "ISO-LOCAL": ("2027-02-03T10:00:00", vn_time(2027, 2, 3, 10)),
        "ISO-ZONE": ("2027-02-03T10:00:00+07:00", vn_time(2027, 2, 3, 10)),
        # Wed 06:30 in Vietnam, still Tuesday in UTC: the local day counts.
        "UTC": ("2027-02-02T23:30:00Z", vn_time(2027, 2, 3, 6) + timedelta(minutes=30)),
        "DAY": ("03/02/2027", vn_time(2027, 2, 3, 0)),
    }
    batch = [
        record(code, appointment_date=None, processing_days=3, received_at=text)
        for code, (text, _) in formats.items()
    ]
    batch += [
        record("BAD-HOUR", received_at="03/02/2027 25:00"),
        record("BAD-ORDER", received_at="02/30/2027 10:00"),  # month and day swapped
        record("BAD-DAY", appointment_date="30/02/2027 17:00"),
        record("BAD-DIGITS", received_at="03/02/٢٠٢٧ 10:00"),
    ]
    async with api(database, now=vn_time(2027, 2, 3, 18)) as client:
        response = await client.post(PATH_, json=batch, headers=bearer(commune))
        body = await response.json()
    results = body["results"]
    assert [r["appointment_date"] for r in results[: len(formats)]] == ["2027-02-15"] * len(formats)
    moment = "received_at: not a date or time (use DD/MM/YYYY HH:MM[:SS] or ISO 8601)"
    assert [r["errors"] for r in results[len(formats) :]] == [
        [moment],
        [moment],
        ["appointment_date: not a date (use YYYY-MM-DD or DD/MM/YYYY)"],
        [moment],
    ]
    async with database.transaction() as session:
        stored = {d.code: d for d in await session.scalars(select(Dossier))}
    for code, (_, instant) in formats.items():
        assert stored[code].received_at == instant, code
        assert stored[code].received_on.isoformat() == "2027-02-03", code
