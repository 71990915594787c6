"""Hostile input against POST /api/v1/dossiers, over real loopback HTTP, on both databases.

(a) Whole requests: any body, content type and key is answered below 500, and a
request that is not answered 200 stores nothing. (b) One field at a time: a hostile
value in a batch next to a good record never costs the good record, is rejected with
its index and a reason naming the field, or, if accepted, is stored as given (never
coerced). Run with `-s` to see how many requests each part tried and their statuses.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.boundary import EARLIEST, LATEST
from bot.models import Dossier, Service, StartCode
from handlers.dossiers.keys import create_key, revoke_key
from tests.bot.web.test_dossiers_api import api, bearer
from tests.builders import ZONE, seed_catalog
from tests.dossier_helpers import CALENDAR, record, vn_time

PATH = "/api/v1/dossiers"
STATS: dict[str, Counter] = defaultdict(Counter)  # HTTP statuses, per route/field
RECORDS: dict[str, Counter] = defaultdict(Counter)  # what became of the hostile records
_serial = itertools.count()
# Codes of hostile records stored since the database was last emptied: hypothesis may
# draw one value twice within a test (its examples share the database), and a code
# given again is an update of that dossier ("unchanged"), not a new one.
STORED_CODES: set[str] = set()
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FIELD_FUZZ = settings(FUZZ, max_examples=10)


@pytest.fixture(scope="session", autouse=True)
def print_stats():
    """The figures, once, when the session ends (after both databases)."""
    yield
    print("\ndossier API fuzz: requests tried and statuses (both databases)")
    for name in sorted(STATS):
        counts = STATS[name]
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()))
        line = f"  {name}: {sum(counts.values())} requests ({statuses})"
        if name in RECORDS:
            line += "; hostile records " + ", ".join(
                f"{outcome}: {n}" for outcome, n in sorted(RECORDS[name].items())
            )
        print(line)


@pytest.fixture
async def setup(database):
    """The seeded catalogue, keys of every kind, and a running API server."""
    STORED_CODES.clear()
    await seed_catalog(database)
    async with database.transaction() as session:
        commune = await create_key(session, "DNAI-XTEST", vn_time(2027, 1, 1))
        province = await create_key(session, "DNAI-STP", vn_time(2027, 1, 1))
        revoked = await create_key(session, "DNAI-XTEST", vn_time(2027, 1, 1))
        await revoke_key(session, revoked.split(".")[0].removeprefix("sipas_"), vn_time(2027, 1, 2))
    keys = {
        "good": commune,
        "other agency": province,
        "revoked": revoked,
        "wrong secret": commune[:-4] + ("AAAA" if not commune.endswith("AAAA") else "BBBB"),
        "malformed": "sipas_é" + "x" * 300,
    }
    async with api(database, api_max_body_bytes=256 * 1024, api_max_records=100) as client:
        yield database, client, keys


async def counts(database) -> tuple[int, int, int]:
    async with database.transaction() as session:
        return tuple(
            [
                await session.scalar(select(func.count()).select_from(model))
                for model in (Dossier, Service, StartCode)
            ]
        )


async def stored(database, code: str) -> Dossier | None:
    async with database.transaction() as session:
        return await session.scalar(select(Dossier).where(Dossier.code == code))


def dumps(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


# -- hostile values ----------------------------------------------------------------------

FIXED_HOSTILE = [
    None,
    True,
    False,
    0,
    -1,
    4,
    4.0,
    4.5,
    float("nan"),
    float("inf"),
    10**40,
    -(10**400),
    "",
    "   ",
    {},
    [],
    {"ho": "Nguyễn"},
    ["Nguyễn", "An"],
    [{"from": "2027-02-01", "to": "9999-12-31"}],
    [{"from": "0001-01-01"}],
    [{"from": "2027-02-03", "to": "2027-02-01"}],
    [{"from": "2027-02-01"}, {"from": "2027-03-01"}],
    [{"from": "2001-01-01", "to": "2099-01-01"}],
    [{"from": "2027-02-01", "to": "2027-02-02", "extra": 1}],
    [{"from": "2027-02-01", "to": "2027-02-02"}] * 30,
    "2027-02-01/9999-12-31",
    "2027-02-01/; 2027-03-01/",
    "a\x00b",
    "a\ud800b",
    "\udfff",
    "Nguy\u202eễn",
    "line\nbreak",
    "09¹2345678",
    "٠٩١٢٣٤٥٦٧٨",
    "０９１２３４５６７８",
    "²",
    "٣",
    "４",
    "0912345678",
    "+84 (0)912-345-678",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:30:00+01:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999-05:00",
    "9999-12-31",
    "0001-01-01",
    "31/12/9999",
    "01/01/0001",
    "1999-12-31",
    "2101-01-01",
    "2027-02-01T08:30:00",
    "2027-02-01T08:30:00Z",
    "٢٠٢٧-٠٢-٠١",
    "２０２７-０２-０１",
    "22/10/2026",
    "31/02/2027",
    "HT-KS",
    "DNAI-STP",
    "NOPE",
    "x" * 60_000,
    "ễ" * 600,
]
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
poisoned_text = st.builds(
    lambda head, tail, poison: head + poison + tail,
    st.text(max_size=12),
    st.text(max_size=12),
    st.sampled_from(["\x00", "\ud800", "\udfff", "\u202e", "\x1b", "٣", "¹"]),
)
edge_moments = st.builds(
    lambda year, month, day, offset: (
        f"{year:04d}-{month:02d}-{day:02d}T23:59:59{offset}"
        if offset
        else f"{day:02d}/{month:02d}/{year:04d}"
    ),
    st.sampled_from([1, 2, 1999, 2000, 2100, 2101, 9998, 9999]),
    st.integers(1, 12),
    st.integers(1, 31),
    st.sampled_from(["", "+14:00", "-12:00", "+00:00", "Z"]),
)
hostile = st.one_of(
    st.sampled_from(FIXED_HOSTILE), json_values, poisoned_text, edge_moments, st.text(max_size=80)
)


# -- (a) whole requests --------------------------------------------------------------------

records = st.lists(
    st.one_of(
        st.builds(lambda: record(f"FZ-{next(_serial)}")),
        st.dictionaries(st.sampled_from(sorted(record("X"))), hostile, max_size=6),
        json_values,
    ),
    max_size=6,
)
bodies = st.one_of(
    st.builds(lambda rs: dumps({"dossiers": rs}), records),
    st.builds(lambda rs: dumps(rs), records),
    st.builds(dumps, json_values),
    st.binary(max_size=200),
    st.builds(lambda n: b"[" * n + b"]" * n, st.integers(30, 20_000)),
    st.builds(lambda n: b'{"dossiers": ' + b"[" * n + b"]" * n + b"}", st.integers(30, 3000)),
    st.builds(
        lambda n: b'{"dossiers": [' + b'{"a":' * n + b"1" + b"}" * n + b"]}",
        st.integers(30, 3000),
    ),
    st.builds(
        lambda rs: json.dumps({"dossiers": rs}, ensure_ascii=False).encode(
            "utf-16", errors="surrogatepass"
        ),
        records,
    ),
    st.just(  # Windows' Vietnamese code page, not UTF-8
        json.dumps({"dossiers": [record("CP1258")]}, ensure_ascii=False).encode(
            "cp1258", errors="replace"
        )
    ),
    st.just(b'{"dossiers": [{"code": "Z", "state": ' + b"9" * 5000 + b"}]}"),
    st.just(b"\xff\xfe\x00{"),
    st.just(dumps([{"code": f"MANY-{i}", "state": 2} for i in range(101)])),
    st.just(dumps([record("BIG", delay_reason="x" * 999)] * 300)),
)
content_types = st.sampled_from(
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ]
)
key_choices = st.one_of(  # half the requests pass the key check
    st.just("good"),
    st.sampled_from(["missing", "other agency", "revoked", "wrong secret", "malformed"]),
)


@FUZZ
@given(body=bodies, content_type=content_types, key=key_choices, x_api_key=st.booleans())
async def test_any_request_is_answered_below_500_and_a_refusal_stores_nothing(
    setup, body, content_type, key, x_api_key
):
    database, client, keys = setup
    headers = {}
    if key != "missing":
        headers = {"X-Api-Key": keys[key]} if x_api_key else bearer(keys[key])
    if content_type is not None:
        headers["Content-Type"] = content_type
    before = await counts(database)
    response = await client.post(PATH, data=body, headers=headers)
    STATS["whole requests"][str(response.status)] += 1
    assert response.status < 500
    after = await counts(database)
    if key not in ("good", "other agency"):
        assert response.status == 401
    if response.status != 200:
        assert after == before
        return
    answer = await response.json()
    assert answer["counts"]["created"] == after[0] - before[0]
    # 200 means something was accepted, or the list was empty
    assert answer["counts"]["rejected"] < len(answer["results"]) or not answer["results"]
    assert [result["index"] for result in answer["results"]] == list(range(len(answer["results"])))


# -- (b) one field at a time ---------------------------------------------------------------

TEXT = {"code", "agency", "procedure_code", "procedure_name", "field", "citizen_name"}
TEXT |= {"delay_reason"}
DATES = {"appointment_date": "appointment_date", "new_appointment_date": "agency_new_date"}
MOMENTS = {"received_at", "state_changed_at", "finished_at", "returned_at"}
FIELDS = sorted(
    TEXT | set(DATES) | MOMENTS | {"phone", "state", "processing_days", "pauses"} | {"citizen_name"}
)
_ASCII_DIGITS = re.compile(r"[0-9]+")
# A hostile value may also leave another field's rule unmet (no date owed without
# processing_days): that field is named then.
RELATED = {"processing_days": ("appointment_date",)}


def _whole(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _ASCII_DIGITS.fullmatch(value.strip()):
        return int(value.strip())
    return None


def _in_window(day: date) -> bool:
    return EARLIEST <= day <= LATEST


def assert_stored_as_given(field: str, value, row: Dossier) -> None:
    """An accepted hostile value was of the right type and is stored as it was sent."""
    if value is None or (isinstance(value, str) and not value.strip()):
        # null or empty: "leave as it is"; only field and delay_reason are erased by it
        if field in ("field", "delay_reason"):
            assert getattr(row, field) is None
        return
    if field in TEXT:
        assert isinstance(value, str), type(value)
        if field == "agency":
            assert value.strip() == "DNAI-XTEST"  # the only agency this key may write
        else:
            assert getattr(row, field) == value.strip()
        return
    if field == "phone":
        assert isinstance(value, str)
        assert re.fullmatch(r"84[0-9]{9,10}", row.phone)
        assert "".join(c for c in value if c in "0123456789").endswith(row.phone[2:])
        return
    if field == "state":
        assert _whole(value) == row.state
        return
    if field == "processing_days":
        days = _whole(value)
        assert days is not None and 0 <= days <= 365
        assert row.appointment_date == CALENDAR.deadline(row.received_on, days)
        return
    if field in DATES:
        assert isinstance(value, str) and value.isascii()
        assert _in_window(getattr(row, DATES[field]))
        return
    if field in MOMENTS:
        assert isinstance(value, str) and value.isascii()
        moment = getattr(row, field)
        assert isinstance(moment, datetime) and _in_window(moment.astimezone(ZONE).date())
        return
    if field == "pauses":
        assert isinstance(value, (list, str))
        for start, end in row.pauses or []:
            assert _in_window(date.fromisoformat(start))
            assert end is None or _in_window(date.fromisoformat(end))
        return
    raise AssertionError(field)


def hostile_record(field: str, value, serial: str) -> dict:
    bad = record(f"BAD-{serial}")
    if field == "processing_days":
        del bad["appointment_date"]
    if field == "new_appointment_date":
        bad["appointment_date"] = "2027-01-04"
    bad[field] = value
    return bad


async def check_hostile(database, field: str, value, result: dict) -> None:
    """Rejected with reasons naming the field and not repeating the value, or stored as given."""
    if result["status"] == "rejected":
        RECORDS[f"field {field}"]["rejected"] += 1
        assert result["errors"]
        named = (field, *RELATED.get(field, ()))
        assert all(reason.startswith(named) for reason in result["errors"]), result
        if result["code"]:
            assert await stored(database, result["code"]) is None
        if isinstance(value, str) and len(value.strip()) >= 6 and field != "code":
            assert value.strip() not in json.dumps(result, ensure_ascii=False)
    else:
        RECORDS[f"field {field}"]["accepted"] += 1
        again = field == "code" and result["code"] in STORED_CODES
        assert result["status"] == ("unchanged" if again else "created"), result
        STORED_CODES.add(result["code"])
        assert_stored_as_given(field, value, await stored(database, result["code"]))


async def post_with_a_good_record(setup, field, values, good_at: int) -> list[dict]:
    """POST the hostile records with one good record at `good_at`; the hostile results."""
    database, client, keys = setup
    serial = next(_serial)
    good = record(f"GOOD-{serial}")
    batch = [hostile_record(field, value, f"{serial}-{i}") for i, value in enumerate(values)]
    batch = [bad for bad in batch if bad.get("code") != good["code"]]
    batch.insert(good_at, good)
    before = await counts(database)
    response = await client.post(
        PATH, data=dumps({"dossiers": batch}), headers=bearer(keys["good"])
    )
    STATS[f"field {field}"][str(response.status)] += 1
    assert response.status == 200
    results = (await response.json())["results"]
    assert [result["index"] for result in results] == list(range(len(batch)))
    assert results[good_at]["status"] == "created"
    row = await stored(database, good["code"])
    assert (row.citizen_name, row.phone, row.state) == ("Nguyễn Văn An", "84912345678", 4)
    created = sum(result["status"] == "created" for result in results)
    after = await counts(database)
    assert after[0] == before[0] + created
    return results[:good_at] + results[good_at + 1 :]


@pytest.mark.parametrize("field", FIELDS)
async def test_every_listed_hostile_value_in_one_batch(setup, field):
    database = setup[0]
    results = await post_with_a_good_record(setup, field, FIXED_HOSTILE, good_at=7)
    assert len(results) == len(FIXED_HOSTILE)
    for value, result in zip(FIXED_HOSTILE, results, strict=True):
        await check_hostile(database, field, value, result)


@pytest.mark.parametrize("field", FIELDS)
@FIELD_FUZZ
@given(value=hostile, bad_first=st.booleans())
async def test_a_hostile_field_never_costs_the_good_record(setup, field, value, bad_first):
    (result,) = await post_with_a_good_record(setup, field, [value], good_at=int(not bad_first))
    await check_hostile(setup[0], field, value, result)
