"""Property: for random stored responses and random report requests, `build_report`
equals a plain-Python count of the raw answers, on SQLite and on PostgreSQL.

The responses go in through the bot's write path (single and bulk, with re-stored
form ids replacing earlier ones), so the monthly rollups (whole months), the daily ones
(the days at a period's ends) and the merging of groups are all checked against the
same reference.
"""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from bot.database import Database
from bot.models import (
    Agency,
    DailyItem,
    DailyMoments,
    DailyResponses,
    Response,
    ResponseAnswer,
    RollupItem,
    RollupMoments,
    RollupResponses,
    Service,
)
from bot.questionnaire import load_questionnaires
from bot.settings import ScoringSettings
from handlers.reports import Period, ReportFilters, build_report
from handlers.survey.store.responses import NewResponse, store_response, store_responses
from handlers.survey.store.rollups import rebuild_rollups
from scoring import OVERALL, GroupCounts, ItemCounts, RespondentMoments, compute

QUESTIONNAIRES = load_questionnaires()
QUESTIONNAIRE = QUESTIONNAIRES["sipas-2017"]
CRITERIA = {q.id: q.factor for q in QUESTIONNAIRE.criteria()}
FACTORS = [f.id for f in QUESTIONNAIRE.factors]
ROLLUPS = (RollupResponses, RollupItem, RollupMoments, DailyResponses, DailyItem, DailyMoments)
FIRST_DAY = date(2024, 11, 1)
LAST_DAY = date(2025, 4, 30)

# code, level, successor: A2 was merged into A3 (commune merger)
AGENCIES = [("A1", "province", None), ("A2", "commune", "A3"), ("A3", "commune", None)]
SERVICES = [("S1", "Tư pháp"), ("S2", "Đất đai")]
CHANNELS = ["telegram", "paper"]

# month boundaries are where monthly rollups (whole months) and daily ones (the rest) meet
EDGES = sorted(
    {
        date(y, m, 1) + timedelta(days=d)
        for y, m in [(2024, 11), (2024, 12), (2025, 1), (2025, 2), (2025, 3), (2025, 4), (2025, 5)]
        for d in (-1, 0, 1)
    }
)
days = st.one_of(st.dates(FIRST_DAY, LAST_DAY), st.sampled_from(EDGES))
answer_value = st.one_of(st.none(), st.just(0), st.integers(1, 5))
response = st.fixed_dictionaries(
    {
        "agency": st.integers(0, len(AGENCIES) - 1),
        "service": st.sampled_from([None, "S1", "S2"]),
        "channel": st.sampled_from(CHANNELS),
        "day": days,
        "form": st.one_of(st.none(), st.sampled_from(["p1", "p2", "p3"])),
        "answers": st.fixed_dictionaries({item: answer_value for item in CRITERIA}),
        "gender": st.one_of(st.none(), st.integers(1, 2)),
    }
)
batches = st.lists(st.lists(response, max_size=6), min_size=1, max_size=4)


@st.composite
def periods(draw) -> Period:
    kind = draw(st.sampled_from(["month", "quarter", "range", "range"]))
    if kind == "month":
        return Period.month(draw(st.sampled_from([2024, 2025])), draw(st.integers(1, 12)))
    if kind == "quarter":
        return Period.quarter(2025, draw(st.integers(1, 2)))
    start, end = sorted(draw(st.lists(days, min_size=2, max_size=2)))
    return Period(start, end)


@st.composite
def unaligned_periods(draw) -> Period:
    """Any range whose ends are not month ends: from a few days to most of the data."""
    start = draw(st.dates(FIRST_DAY, LAST_DAY - timedelta(days=2)))
    end = draw(st.dates(start, LAST_DAY))
    if start.day == 1:
        start += timedelta(days=1)
    if (end + timedelta(days=1)).day == 1:
        end -= timedelta(days=1)
    return Period(start, max(start, end))


def request_of(period_strategy):
    return st.fixed_dictionaries(
        {
            "period": period_strategy,
            "grouping": st.lists(
                st.sampled_from(["agency", "service", "level", "channel", "month"]),
                unique=True,
                max_size=2,
            ),
            "agencies": st.lists(st.sampled_from(["A1", "A2", "A3"]), unique=True, max_size=2),
            "merge": st.booleans(),
            "services": st.lists(st.sampled_from(["S1", "S2"]), unique=True, max_size=1),
            "field": st.sampled_from([None, "tu phap"]),
            "level": st.sampled_from([None, "commune"]),
            "channel": st.sampled_from([None, "paper"]),
        }
    )


requests = request_of(periods())


async def _reset(database: Database) -> tuple[dict[str, int], dict[str, int]]:
    async with database.transaction() as session:
        for model in (*ROLLUPS, ResponseAnswer, Response, Service, Agency):
            await session.execute(delete(model))
        for code, level, successor in AGENCIES:
            await session.execute(
                insert(Agency).values(
                    code=code,
                    name=f"Cơ quan {code}",
                    name_folded=code.lower(),
                    level=level,
                    successor_code=successor,
                )
            )
        for code, field in SERVICES:
            await session.execute(
                insert(Service).values(
                    code=code, name=f"Thủ tục {code}", name_folded=code, field=field
                )
            )
        agencies = dict((await session.execute(select(Agency.code, Agency.id))).all())
        services = dict((await session.execute(select(Service.code, Service.id))).all())
    return agencies, services


def _answers(raw: dict) -> dict[str, int]:
    stored = {item: value for item, value in raw["answers"].items() if value is not None}
    if raw["gender"] is not None:
        stored["gender"] = raw["gender"]  # a choice item: never counted as a criterion
    return stored


# --------------------------------------------------------------------------- reference


def _successor(code: str) -> str:
    successors = {c: s for c, _, s in AGENCIES}
    while successors.get(code):
        code = successors[code]
    return code


def _selected(raw: dict, request: dict) -> bool:
    code, level, _ = AGENCIES[raw["agency"]]
    period = request["period"]
    if not period.start <= raw["day"] <= period.end:
        return False
    if request["agencies"]:
        wanted = set(request["agencies"])
        if request["merge"]:
            if _successor(code) not in {_successor(c) for c in wanted}:
                return False
        elif code not in wanted:
            return False
    if request["services"] and raw["service"] not in request["services"]:
        return False
    if request["field"] and raw["service"] != "S1":  # only S1 is in "Tư pháp"
        return False
    if request["level"] and level != request["level"]:
        return False
    return not (request["channel"] and raw["channel"] != request["channel"])


def _key(raw: dict, request: dict) -> tuple:
    code, level, _ = AGENCIES[raw["agency"]]
    values = {
        "agency": _successor(code) if request["merge"] else code,
        "service": raw["service"] or "",
        "level": level,
        "channel": raw["channel"],
        "month": raw["day"].strftime("%Y-%m"),
    }
    return tuple(values[name] for name in request["grouping"])


def _moments(people: list[dict], items: list[str]) -> RespondentMoments:
    pairs = []
    for answers in people:
        valid = [answers[i] for i in items if answers.get(i) in (1, 2, 3, 4, 5)]
        if valid:
            pairs.append((sum(1 for v in valid if v >= 4), len(valid)))
    return RespondentMoments(
        len(pairs),
        sum(y for y, _ in pairs),
        sum(m for _, m in pairs),
        sum(y * y for y, _ in pairs),
        sum(m * m for _, m in pairs),
        sum(y * m for y, m in pairs),
    )


def _reference_counts(people: list[dict]) -> GroupCounts:
    items = []
    for item, factor in CRITERIA.items():
        values = [answers.get(item) for answers in people]
        items.append(
            ItemCounts(item, factor, tuple(values.count(v) for v in range(1, 6)), values.count(0))
        )
    moments = {f: _moments(people, [i for i in CRITERIA if CRITERIA[i] == f]) for f in FACTORS}
    moments[OVERALL] = _moments(people, list(CRITERIA))
    return GroupCounts(len(people), tuple(items), moments)


def _reference(live: list[dict], request: dict, period: Period) -> dict[tuple, GroupCounts]:
    shifted = {**request, "period": period}
    groups: dict[tuple, list[dict]] = {}
    for raw in live:
        if _selected(raw, shifted):
            groups.setdefault(_key(raw, shifted), []).append(_answers(raw))
    return {key: _reference_counts(people) for key, people in groups.items()}


def _form(raw: dict) -> tuple[str, str]:
    """A paper form is its agency's number for it (one questionnaire here)."""
    return (raw["agency"], raw["form"])


def _live(stored_batches: list[list[dict]]) -> list[dict]:
    """What remains after forms stored again replaced the earlier ones."""
    live: list[dict] = []
    for batch in stored_batches:
        for raw in batch:
            if raw["form"] is not None:
                live = [r for r in live if r["form"] is None or _form(r) != _form(raw)]
            live.append(raw)
    return live


def _dedupe(batch: list[dict]) -> list[dict]:
    seen, kept = set(), []
    for raw in batch:
        if raw["form"] is None or _form(raw) not in seen:
            kept.append(raw)
            seen.add(_form(raw) if raw["form"] is not None else None)
    return kept


# --------------------------------------------------------------------------- property


async def _rollup_rows(database: Database) -> set[tuple]:
    rows = set()
    async with database.transaction() as session:
        for model in ROLLUPS:
            table = model.__table__
            counters = [c for c in table.columns if not c.primary_key]
            for row in await session.execute(select(table)):
                if any(row._mapping[c.name] for c in counters):
                    rows.add((table.name, *(int(v) if isinstance(v, int) else v for v in row)))
    return rows


PROPERTY = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(stored=batches, request=requests)
async def test_report_equals_reference_from_raw_answers(database, stored, request):
    await _check_report(database, stored, request)


@PROPERTY
@given(stored=batches, request=request_of(unaligned_periods()))
async def test_days_outside_whole_months_equal_the_reference(database, stored, request):
    """Ranges not aligned to months: their ends (and their previous period's) come from
    the daily rollups, the months between from the monthly ones."""
    assert request["period"].start.day != 1
    await _check_report(database, stored, request)


async def _check_report(database, stored, request):
    agencies, services = await _reset(database)
    stored = [_dedupe(batch) for batch in stored]
    for number, batch in enumerate(stored):
        async with database.transaction() as session:
            rows = [
                NewResponse(
                    questionnaire=QUESTIONNAIRE.id,
                    agency_id=agencies[AGENCIES[raw["agency"]][0]],
                    service_id=services.get(raw["service"]),
                    level=AGENCIES[raw["agency"]][1],
                    day=raw["day"],
                    channel_kind=raw["channel"],
                    answers=_answers(raw),
                    form_id=raw["form"],
                )
                for raw in batch
            ]
            if number % 2:
                await store_responses(session, rows, QUESTIONNAIRES)
            else:  # the chat path: one response at a time
                for row in rows:
                    await store_response(
                        session,
                        QUESTIONNAIRES,
                        questionnaire=row.questionnaire,
                        agency_id=row.agency_id,
                        service_id=row.service_id,
                        level=row.level,
                        day=row.day,
                        channel_kind=row.channel_kind,
                        answers=dict(row.answers),
                        form_id=row.form_id,
                    )
    live = _live(stored)
    filters = ReportFilters(
        questionnaire=QUESTIONNAIRE.id,
        period=request["period"],
        agencies=tuple(request["agencies"]),
        merge_successors=request["merge"],
        services=tuple(request["services"]),
        fields=(request["field"],) if request["field"] else (),
        level=request["level"],
        channel_kind=request["channel"],
    )
    scoring_settings = ScoringSettings(target=80, min_sample=3)
    async with database.transaction() as session:
        report = await build_report(
            session,
            {QUESTIONNAIRE.id: QUESTIONNAIRE},
            filters,
            request["grouping"],
            scoring_settings,
        )

    expected = _reference(live, request, request["period"])
    before = _reference(live, request, request["period"].previous())
    rule = QUESTIONNAIRE.aggregation.value
    if request["grouping"]:
        got = {
            tuple(group.key[name] for name in request["grouping"]): group for group in report.groups
        }
        assert set(got) == set(expected)
        for key, counts in expected.items():
            assert got[key].counts == counts
            assert got[key].previous == before.get(key)
            assert got[key].indices == compute(counts, rule, 80, 3, before.get(key))
    total = _reference_counts([_answers(raw) for raw in live if _selected(raw, request)])
    assert report.total.counts == total
    earlier = [
        _answers(raw)
        for raw in live
        if _selected(raw, {**request, "period": request["period"].previous()})
    ]
    assert report.total.previous == (_reference_counts(earlier) if earlier else None)

    # the rollups kept by the write path equal a rebuild from the stored answers
    kept = await _rollup_rows(database)
    async with database.transaction() as session:
        await rebuild_rollups(session, QUESTIONNAIRES)
    assert await _rollup_rows(database) == kept
