"""An operator who reads every table cannot tell which chat, code or dossier gave a response.

Thirty citizens of one agency, service, channel and day, each with the single-use code
of their own dossier (name and phone), start in one order and finish in another, through
the real inbound path; the next day the pool is published. A second run has them all
use one counter code instead, so that each completion casts a ballot. Then the test plays the
operator of README "Anonymity": it knows which chat, code, dossier, update and outbox row
belongs to which citizen (as if the dossiers told it), and tries to carry that over to the
responses by every equal value between a response-side and an identity-side column, and
by every ordering: ids, SQLite rowids, PostgreSQL ctids and transaction ids (xmin, xmax),
and the true start and completion orders. Each response's answers tell the test who gave
it (a pattern per citizen), so it counts how many of the 30 each strategy gets right.

Chance: the publication shuffles with SystemRandom, so a strategy that carries no
information is a uniformly random matching: its correct guesses are the fixed points of a
random permutation (mean 1; P(≥ 9) ≈ 1.0e-6) and its rank correlation has a standard
deviation of 1/√29 ≈ 0.19 (P(|ρ| > 0.85) ≈ 5e-6). The strategies reduce to about twenty
distinct matchings per run (printed with -s), about 80 over the four runs, so by the union
bound a correct implementation fails this file at most about once in 2,000 runs (≈ 5e-4);
a leaking one gets 30 of 30 (ρ = 1), as it did before the pool existed.
"""

from __future__ import annotations

import itertools
import random
import string
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, text

from bot.database import Database
from bot.models import PooledResponse, Response
from handlers.messages import Inbound
from handlers.survey.store import SurveyStore
from tests.builders import (
    QUESTIONNAIRES,
    ZONE,
    Citizen,
    FakeClock,
    make_code,
    make_processor,
    publish_held,
    seed_catalog,
)
from tests.dossier_helpers import record, upsert, vn_time

CITIZENS = 30
MAX_CORRECT = 8  # of 30: see the module docstring
MAX_CORRELATION = 0.85
Q = QUESTIONNAIRES["sipas-2017"]
CRITERIA = [q.id for q in Q.questions if q.factor in ("F1", "F2", "F3", "F4")]
PROFILE = ["gender", "age_band", "education", "occupation", "ethnicity"]

IDENTITY_TABLES = (
    "chats",
    "survey_sessions",
    "start_codes",
    "dossiers",
    "ballots",
    "processed_updates",
    "outbox",
    "dossier_link_failures",
    "apology_notices",
)
RESPONSE_TABLES = ("responses", "response_answers", "response_pool")
_keys = itertools.count(1)


def pattern(citizen: int) -> dict[str, int]:
    """Citizen n's answers: its number in base 5 on the first three criteria, the rest
    fixed, the gate answered no (factor 5 skipped)."""
    digits = [citizen // 25 % 5, citizen // 5 % 5, citizen % 5]
    answers = {qid: 3 for qid in CRITERIA}
    answers.update({qid: digit + 1 for qid, digit in zip(CRITERIA, digits, strict=False)})
    answers["feedback_given"] = 2
    answers.update(dict(zip(PROFILE, [1, 2, 3, 4, 1], strict=True)))
    return answers


def who_answered(answers: dict[str, Any]) -> int:
    first = [answers[qid] - 1 for qid in CRITERIA[:3]]
    return first[0] * 25 + first[1] * 5 + first[2]


class RecordingCitizen(Citizen):
    """A citizen whose update keys (global numbers, as Telegram's) are noted per citizen.

    Delivery is confirmed as the delivery path does when the next message comes first:
    the sent reply's number rides along in that message's own transaction, which
    halves the transactions and keeps the test quick.
    """

    def __init__(self, processor, chat_key: str, keys: dict[str, int], number: int):
        super().__init__(processor, chat_key=chat_key)
        self.keys, self.number = keys, number
        self.sent: int | None = None

    async def _send(self, kind, text_, update_key=None):
        key = f"telegram:{next(_keys)}"
        self.keys[key] = self.number
        taken = await self.processor.take(
            Inbound(self.channel, self.chat_key, kind, text_, key), self.sent
        )
        self.sent = taken.seq or self.sent
        self.replies = taken.replies or self.replies
        return taken.replies


# --------------------------------------------------------------------------- reading


async def table_rows(database: Database, table: str) -> list[dict[str, Any]]:
    """Every row with its physical and transaction pseudo-columns."""
    postgres = not database.is_sqlite
    extra = "ctid::text AS _ctid, xmin::text AS _xmin, xmax::text AS _xmax, " if postgres else ""
    if not postgres and table not in ("survey_funnel",):
        extra = "rowid AS _rowid, "
    async with database.engine.connect() as connection:
        result = await connection.execute(text(f"SELECT {extra}* FROM {table}"))
        rows = [dict(row._mapping) for row in result]
    for row in rows:
        if "_ctid" in row:
            page, item = row.pop("_ctid").strip("()").split(",")
            row["_ctid"] = (int(page), int(item))
            row["_xmin"], row["_xmax"] = int(row["_xmin"]), int(row["_xmax"])
    return rows


def comparable(value: Any) -> list[tuple]:
    """The keys under which a value can be equal to another: exact, and by local day."""
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [("n", value)]
    if isinstance(value, str):
        keys = [("s", value)]
        try:  # SQLite returns dates and timestamps as text through a raw query
            if len(value) == 10:
                return keys + [("d", date.fromisoformat(value))]
            return keys + comparable(datetime.fromisoformat(value))
        except ValueError:
            return keys
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return [("t", moment.timestamp()), ("d", moment.astimezone(ZONE).date())]
    if isinstance(value, date):
        return [("d", value)]
    if isinstance(value, tuple):
        return [("c", value)]
    return [("s", str(value))]


def sort_key(value: Any) -> Any:
    keys = comparable(value)
    return keys[0] if keys else None


# --------------------------------------------------------------------------- scoring


def matching_score(guess: dict[int, int], truth: dict[int, int]) -> int:
    return sum(truth[response] == citizen for response, citizen in guess.items())


def spearman(pairs: list[tuple[int, int]]) -> float:
    n = len(pairs)
    d2 = sum((a - b) ** 2 for a, b in pairs)
    return 1 - 6 * d2 / (n * (n * n - 1))


def ranked(keys: dict[int, Any]) -> list[int] | None:
    """Ids in the order of their keys; None if keys tie (no order to align)."""
    if len(set(keys.values())) < len(keys):
        return None
    return sorted(keys, key=lambda i: keys[i])


# --------------------------------------------------------------------------- the run


async def run_the_day(database: Database, counter: bool) -> dict[str, Any]:
    """Thirty citizens finish one survey each; returns what the operator may know.

    With receipt codes, each citizen's code is single use and bound to their dossier;
    with a counter code, all share one reusable code and a ballot per chat is cast.
    """
    catalog = await seed_catalog(database)
    rng = random.Random()
    names = ["".join(rng.choices(string.ascii_uppercase, k=8)) for _ in range(CITIZENS)]
    records = [
        record(
            f"HS-{index:03d}",
            citizen_name=f"Nguyễn Văn {names[index]}",
            phone=f"09{10_000_000 + index * 7_919:08d}",
        )
        for index in range(CITIZENS)
    ]
    outcomes = await upsert(database, records, vn_time(2027, 2, 1))
    if counter:
        codes = [await make_code(database, catalog, single_use=False)] * CITIZENS
    else:
        codes = [outcome.start_code for outcome in outcomes]
    assert all(codes)
    clock = FakeClock(vn_time(2027, 2, 2, 8))
    processor = make_processor(database, clock)
    keys: dict[str, int] = {}
    start_order = rng.sample(range(CITIZENS), CITIZENS)
    finish_order = rng.sample(range(CITIZENS), CITIZENS)
    citizens = {
        n: RecordingCitizen(processor, f"{700_000_000 + rng.randrange(10**8)}", keys, n)
        for n in range(CITIZENS)
    }
    for n in [] if counter else start_order:  # the receipt's code links chat and dossier
        clock.advance(seconds=rng.randrange(1, 90))
        await citizens[n].say(f"/start {codes[n]}")
    clock.advance(minutes=30)  # results are handed back: the dossiers are returned
    await upsert(
        database, [{"code": r["code"], "state": 10} for r in records], vn_time(2027, 2, 2, 9)
    )
    for n in start_order:  # everyone answers all but the last question
        citizen = citizens[n]
        clock.advance(seconds=rng.randrange(1, 90))
        await citizen.say(codes[n])
        answers = pattern(n)
        asked = [q.id for q in Q.questions if q.id in answers or q.id == "suggestion"]
        for qid in asked[:-1]:
            clock.advance(seconds=rng.randrange(1, 20))
            await citizen.tap(answers[qid])
    for n in finish_order:  # and finishes in another order (the suggestion skipped)
        clock.advance(seconds=rng.randrange(1, 300))
        await citizens[n].say("/skip")
        assert citizens[n].last.text.startswith("Cảm ơn")
    assert clock.now.astimezone(ZONE).date() == date(2027, 2, 2)

    async with database.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Response)) == 0
        assert await session.scalar(select(func.count()).select_from(PooledResponse)) == 30
        ballots = {
            await SurveyStore(session)._ballot_hash(
                "telegram", citizens[n].chat_key, catalog.service_id, date(2027, 2, 2)
            ): n
            for n in range(CITIZENS)
        }
    # The next day's hourly publication, at 00:30 local time.
    published = await publish_held(database, datetime(2027, 2, 3, 0, 30, tzinfo=ZONE))
    assert published == CITIZENS
    return {
        "chat_keys": {citizens[n].chat_key: n for n in range(CITIZENS)},
        "codes": {} if counter else {codes[n]: n for n in range(CITIZENS)},
        "dossier_codes": {records[n]["code"]: n for n in range(CITIZENS)},
        "update_keys": keys,
        "ballots": ballots,
        "start_order": start_order,
        "finish_order": finish_order,
    }


def attribute(tables: dict[str, list[dict]], known: dict[str, Any]) -> dict[str, list]:
    """(citizen, row) for every identity-side row the operator can tie to a citizen."""
    chat_of = {row["id"]: known["chat_keys"].get(row["chat_key"]) for row in tables["chats"]}
    dossier_of = {row["id"]: known["dossier_codes"].get(row["code"]) for row in tables["dossiers"]}
    owner = {
        "chats": lambda row: known["chat_keys"].get(row["chat_key"]),
        "survey_sessions": lambda row: chat_of.get(row["chat_id"]),
        "start_codes": lambda row: known["codes"].get(row["code"]),
        "dossiers": lambda row: dossier_of.get(row["id"]),
        "ballots": lambda row: known["ballots"].get(row["token_hash"]),
        "processed_updates": lambda row: known["update_keys"].get(row["update_key"]),
        "outbox": lambda row: dossier_of.get(row["dossier_id"]),
        "dossier_link_failures": lambda row: chat_of.get(row["chat_id"]),
        "apology_notices": lambda row: dossier_of.get(row["dossier_id"]),
    }
    attributed = {}
    for table in IDENTITY_TABLES:
        attributed[table] = [
            (owner[table](row), row) for row in tables[table] if owner[table](row) is not None
        ]
    return attributed


@pytest.mark.parametrize("counter", [False, True], ids=["receipt codes", "counter code"])
async def test_no_join_or_order_ties_a_response_to_its_chat_code_or_dossier(
    database: Database, counter: bool, capsys
):
    known = await run_the_day(database, counter)
    tables = {name: await table_rows(database, name) for name in IDENTITY_TABLES}
    tables.update({name: await table_rows(database, name) for name in RESPONSE_TABLES})
    funnel = await table_rows(database, "survey_funnel")
    attributed = attribute(tables, known)
    assert {n for n, _ in attributed["chats"]} == set(range(CITIZENS))
    assert {n for n, _ in attributed["dossiers"]} == set(range(CITIZENS))
    # Ballots are cast for counter codes only, by the completing transactions.
    assert len(attributed["ballots"]) == (CITIZENS if counter else 0)
    assert len(attributed["start_codes"]) == (0 if counter else CITIZENS)
    assert tables["survey_sessions"] == [] and tables["response_pool"] == []

    # Ground truth: the answers say who gave each response.
    answers: dict[int, dict[str, Any]] = defaultdict(dict)
    for row in tables["response_answers"]:
        answers[row["response_id"]][row["item_id"]] = row["value"]
    truth = {rid: who_answered(given) for rid, given in answers.items()}
    assert sorted(truth.values()) == list(range(CITIZENS))
    assert all(given == pattern(truth[rid]) for rid, given in answers.items())

    # Response-side values per response (answer rows belong to their response).
    response_values: dict[tuple[str, str], dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for row in tables["responses"]:
        for column, value in row.items():
            response_values["responses", column][row["id"]].append(value)
    for row in tables["response_answers"]:
        for column, value in row.items():
            response_values["response_answers", column][row["response_id"]].append(value)
    identity_values: dict[tuple[str, str], list[tuple[int, Any]]] = defaultdict(list)
    for table, rows in attributed.items():
        for citizen, row in rows:
            for column, value in row.items():
                identity_values[table, column].append((citizen, value))

    distinct_matchings: set[tuple] = set()
    tried = 0
    # 1. Joins: every response-side column against every identity-side column, equal
    # values (numbers, texts, instants, and timestamps by their local day).
    for (rtable, rcolumn), per_response in response_values.items():
        for (itable, icolumn), owned in identity_values.items():
            index: dict[tuple, set[int]] = defaultdict(set)
            for citizen, value in owned:
                for key in comparable(value):
                    index[key].add(citizen)
            guess = {}
            for rid, values in per_response.items():
                candidates = set().union(
                    *(index.get(key, set()) for value in values for key in comparable(value))
                )
                if len(candidates) == 1:
                    guess[rid] = candidates.pop()
            tried += 1
            correct = matching_score(guess, truth)
            if guess:
                distinct_matchings.add(tuple(sorted(guess.items())))
            assert correct <= MAX_CORRECT, (rtable, rcolumn, itable, icolumn, correct)

    # 2. Orderings: each response-side order aligned with each citizen order, both ways.
    response_orders: dict[str, dict[int, Any]] = {}
    for column in ("id", "_rowid", "_ctid", "_xmin"):
        keys = {row["id"]: row[column] for row in tables["responses"] if column in row}
        if keys:
            response_orders[f"responses.{column}"] = keys
    for column in ("_rowid", "_ctid", "_xmin"):
        keys: dict[int, Any] = {}
        for row in tables["response_answers"]:
            if column in row:
                rid = row["response_id"]
                keys[rid] = min(keys.get(rid, row[column]), row[column])
        if keys:
            response_orders[f"response_answers.min({column})"] = keys
    citizen_orders: dict[str, dict[int, Any]] = {
        "true start order": {n: i for i, n in enumerate(known["start_order"])},
        "true completion order": {n: i for i, n in enumerate(known["finish_order"])},
    }
    for (table, column), owned in identity_values.items():
        for reduce in (min, max):
            keys = {}
            for citizen, value in owned:
                key = sort_key(value)
                if key is not None:
                    keys[citizen] = key if citizen not in keys else reduce(keys[citizen], key)
            if len(keys) == CITIZENS:
                citizen_orders[f"{table}.{reduce.__name__}({column})"] = keys
    if not database.is_sqlite:
        # Every published response carries the publication's transaction id, and no
        # identity-side row carries it (it locked no chat, touched no code).
        xids = {row["_xmin"] for row in tables["responses"]}
        assert len(xids) == 1
        identity_xids = {
            row[column]
            for rows in attributed.values()
            for _, row in rows
            for column in ("_xmin", "_xmax")
        }
        assert not xids & identity_xids
    for (rname, rkeys), (cname, ckeys) in itertools.product(
        response_orders.items(), citizen_orders.items()
    ):
        responses_in_order = ranked(rkeys)
        citizens_in_order = ranked(ckeys)
        if responses_in_order is None or citizens_in_order is None:
            continue  # a tie everywhere (e.g. one xmin for all): no order to align
        for citizens_aligned in (citizens_in_order, citizens_in_order[::-1]):
            guess = dict(zip(responses_in_order, citizens_aligned, strict=True))
            tried += 1
            distinct_matchings.add(tuple(sorted(guess.items())))
            correct = matching_score(guess, truth)
            position = {c: i for i, c in enumerate(citizens_aligned)}
            rho = spearman([(i, position[truth[rid]]) for i, rid in enumerate(responses_in_order)])
            assert correct <= MAX_CORRECT, (rname, cname, correct)
            assert abs(rho) <= MAX_CORRELATION, (rname, cname, rho)

    # The funnel holds counts only: one row, thirty completions at the last step.
    assert [(row["outcome"], row["sessions"]) for row in funnel] == [("completed", 30)]
    with capsys.disabled():
        print(
            f"\n  anonymity ({'sqlite' if database.is_sqlite else 'postgresql'}, "
            f"{'counter code' if counter else 'receipt codes'}): "
            f"{tried} strategies, {len(distinct_matchings)} distinct matchings, "
            f"none above {MAX_CORRECT}/30 correct"
        )
