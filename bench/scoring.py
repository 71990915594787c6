"""Benchmark: SIPAS reports over a million stored responses, on SQLite and PostgreSQL.

Loads N completed `sipas-2017` responses (100 agencies, 4 quarters of 2025) through the
bot's own storage code (`handlers.survey.store.responses.store_responses`, which also maintains the
rollups), then, in a fresh child process so that its peak memory is the report's:

  (a) the report of one quarter grouped by agency,
  (b) the report of one agency's quarter,
  (c) a floor query that reads every stored answer value once (SUM over the column),
  (d) the report of a 61-day range that is not month-aligned, grouped by agency,
  (e) the reports of a 45-day range, not month-aligned, grouped by service and by channel,

all but (c) through `handlers.reports.build_report`, the function behind `python -m bot
report`. Each report also counts its previous period. (d) and (e) read whole months from
the monthly rollups, whole dekads, pentads and single days at the ends from the daily
ones; the rollup rows they read, and the answers the days outside whole months would
take from `response_answers` (as reports did before the daily rollups), are printed
beside the times.
Targets: (a) < 10 s and <= 3x (c); (b) < 0.2 s; (d), (e) < 1 s; peak memory of the
report < 300 MB.

    .venv/bin/python bench/scoring.py                       # 1,000,000 responses, both DBs
    .venv/bin/python bench/scoring.py --responses 50000 --database sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _databases import create_postgres_database, drop_postgres_database  # noqa: E402
from sqlalchemy import func, insert, or_, select, text  # noqa: E402

from bot import migrate  # noqa: E402
from bot.database import Database  # noqa: E402
from bot.models import (  # noqa: E402
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
from bot.questionnaire import load_questionnaires  # noqa: E402
from bot.settings import ScoringSettings  # noqa: E402
from handlers.reports import Period, ReportFilters, build_report  # noqa: E402
from handlers.reports.periods import split_days  # noqa: E402
from handlers.survey.store.responses import NewResponse, store_responses  # noqa: E402
from handlers.survey.store.rollups import BLOCKS, DEKAD, PENTAD  # noqa: E402

QUESTIONNAIRE = "sipas-2017"
AGENCIES = 100
SERVICES = 30
YEAR = 2025
QUARTER = Period.parse_quarter(f"{YEAR}-Q2")
UNALIGNED = Period(date(YEAR, 4, 16), date(YEAR, 6, 15))  # 61 days, not month-aligned
SHORT = Period(date(YEAR, 5, 10), date(YEAR, 6, 23))  # 45 days, not month-aligned
TARGET_A_SECONDS, TARGET_A_RATIO, TARGET_B_SECONDS, TARGET_MB = 10.0, 3.0, 0.2, 300
TARGET_DE_SECONDS = 1.0


# --------------------------------------------------------------------------- data


def agency_code(index: int) -> str:
    return f"A{index:03d}"


async def seed_catalogue(database: Database) -> tuple[list[tuple[int, str]], list[int]]:
    async with database.transaction() as session:
        await session.execute(
            insert(Agency),
            [
                {
                    "code": agency_code(i),
                    "name": f"{'Sở' if i < 10 else 'UBND xã'} số {i}",
                    "name_folded": f"co quan {i}",
                    "level": "province" if i < 10 else "commune",
                }
                for i in range(AGENCIES)
            ],
        )
        await session.execute(
            insert(Service),
            [
                {
                    "code": f"S{i:02d}",
                    "name": f"Thủ tục {i}",
                    "name_folded": f"thu tuc {i}",
                    "field": f"Lĩnh vực {i % 6}",
                }
                for i in range(SERVICES)
            ],
        )
        agencies = list(await session.execute(select(Agency.id, Agency.level).order_by(Agency.id)))
        services = list(await session.scalars(select(Service.id).order_by(Service.id)))
    return [(a.id, a.level) for a in agencies], services


def generate(count: int, agencies, services, seed: int):
    """Yield NewResponses month by month, agency by agency, as offices send them in.

    Agencies differ in quality and size; every agency offers 15 of the services, a few
    of them much more used; F5 sits behind its gate (a quarter gave feedback).
    """
    rng = random.Random(seed)
    questionnaire = load_questionnaires()[QUESTIONNAIRE]
    criteria = [(q.id, q.factor) for q in questionnaire.criteria()]
    profile = [
        (q.id, [o.value for o in q.options]) for q in questionnaire.questions if q.kind == "choice"
    ]
    quality = [0.55 + 0.4 * rng.random() for _ in agencies]
    size = [0.5 + rng.random() for _ in agencies]
    offset = {"F1": 0.0, "F2": 0.03, "F3": -0.02, "F4": 0.04, "F5": -0.08}
    menus = [rng.sample(services, 15) for _ in agencies]
    channels = ["telegram"] * 10 + ["zalo"] * 7 + ["paper"] * 2 + ["web"]
    blocks = [(month, a) for month in range(1, 13) for a in range(len(agencies))]
    weights = [size[a] for _, a in blocks]
    per_block = [0] * len(blocks)
    for index in rng.choices(range(len(blocks)), weights, k=count):
        per_block[index] += 1
    for (month, a), number in zip(blocks, per_block, strict=True):
        agency_id, level = agencies[a]
        first = date(YEAR, month, 1)
        days = ((date(YEAR + month // 12, month % 12 + 1, 1)) - first).days
        for _ in range(number):
            feedback = rng.random() < 0.25
            answers: dict[str, int | str] = {"feedback_given": 1 if feedback else 2}
            for item_id, factor in criteria:
                if factor == "F5" and not feedback:
                    continue
                roll = rng.random()
                if roll < 0.03:
                    answers[item_id] = 0
                elif roll < 0.03 + 0.97 * (quality[a] + offset[factor]):
                    answers[item_id] = 4 if rng.random() < 0.6 else 5
                else:
                    answers[item_id] = rng.randint(1, 3)
            for item_id, values in profile:
                if rng.random() < 0.9:
                    answers[item_id] = rng.choice(values)
            if rng.random() < 0.05:
                answers["suggestion"] = "Cần thêm chỗ ngồi chờ"
            yield NewResponse(
                questionnaire=QUESTIONNAIRE,
                agency_id=agency_id,
                service_id=menus[a][min(int(rng.paretovariate(1.2)) - 1, 14)],
                level=level,
                day=first + timedelta(days=rng.randrange(days)),
                channel_kind=rng.choice(channels),
                answers=answers,
            )


async def load(database: Database, count: int, batch: int, seed: int) -> None:
    agencies, services = await seed_catalogue(database)
    questionnaires = load_questionnaires()
    started = time.perf_counter()
    pending: list[NewResponse] = []
    stored = 0

    async def flush() -> None:
        nonlocal stored
        async with database.transaction() as session:
            await store_responses(session, pending, questionnaires)
        stored += len(pending)
        pending.clear()
        if stored % (batch * 20) == 0 or stored == count:
            rate = stored / (time.perf_counter() - started)
            print(f"  loaded {stored:,} responses ({rate:,.0f}/s)", file=sys.stderr, flush=True)

    for response in generate(count, agencies, services, seed):
        pending.append(response)
        if len(pending) >= batch:
            await flush()
    if pending:
        await flush()
    seconds = time.perf_counter() - started
    async with database.transaction() as session:
        answers = await session.scalar(select(func.count()).select_from(ResponseAnswer))
    if not database.is_sqlite:
        async with database.engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
    print(
        f"load: {count:,} responses, {answers:,} answers in {seconds:.1f} s "
        f"({count / seconds:,.0f} responses/s) through "
        "handlers.survey.store.responses.store_responses"
    )


# --------------------------------------------------------------------------- measure


def _peak_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss would carry the parent's
    peak over the fork and exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(url: str, repeat: int) -> dict:
    """Run in a child process: time (a), (b), (c); peak RSS covers the reports."""
    questionnaires = load_questionnaires()
    settings = ScoringSettings()
    database = Database(url)
    baseline = _peak_mb()
    result: dict = {"baseline_mb": baseline}
    try:
        async with database.transaction() as session:
            await session.execute(text("SELECT 1"))

        async def timed(label: str, filters: ReportFilters, grouping: tuple[str, ...]) -> None:
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                async with database.transaction() as session:
                    report = await build_report(
                        session, questionnaires, filters, grouping, settings
                    )
                times.append(time.perf_counter() - started)
            result[label] = times
            result[label + "_n"] = report.total.counts.respondents
            result[label + "_groups"] = len(report.groups)
            result[label + "_sipas"] = report.total.indices.overall.index

        await timed("a", ReportFilters(QUESTIONNAIRE, QUARTER), ("agency",))
        await timed("b", ReportFilters(QUESTIONNAIRE, QUARTER, agencies=(agency_code(42),)), ())
        await timed("d", ReportFilters(QUESTIONNAIRE, UNALIGNED), ("agency",))
        await timed("e_service", ReportFilters(QUESTIONNAIRE, SHORT), ("service",))
        await timed("e_channel", ReportFilters(QUESTIONNAIRE, SHORT), ("channel",))
        result["peak_mb"] = _peak_mb()
        async with database.transaction() as session:
            for label, period in (("d", UNALIGNED), ("e", SHORT)):
                result[label + "_rows"] = await rows_read(session, period)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            async with database.transaction() as session:
                total, rows = (
                    await session.execute(
                        select(func.sum(ResponseAnswer.value), func.count(ResponseAnswer.value))
                    )
                ).one()
            times.append(time.perf_counter() - started)
        result["c"] = times
        result["c_rows"] = int(rows)
        result["c_sum"] = int(total)
    finally:
        await database.dispose()
    return result


async def rows_read(session, period: Period) -> dict[str, int]:
    """Rows a report of `period` (and of its previous period) reads: monthly, dekad,
    pentad and day rollup rows now, and the answers its days outside whole months were counted from
    before the daily rollups."""
    months, ranges, days = [], [], []
    blocks: dict[int, list] = {span: [] for span in BLOCKS}
    for part in (period, period.previous()):
        whole, edges = part.split()
        months += whole
        ranges += edges
        for start, end in edges:
            firsts, rest = split_days(start, end)
            for span in BLOCKS:
                blocks[span] += firsts[span]
            days += rest
    read = {"monthly": 0, "dekad": 0, "pentad": 0, "day": 0}
    for model in (RollupResponses, RollupItem, RollupMoments):
        read["monthly"] += await session.scalar(
            select(func.count()).select_from(model).where(model.month.in_(months))
        )
    for model in (DailyResponses, DailyItem, DailyMoments):
        for name, span in (("dekad", DEKAD), ("pentad", PENTAD)):
            read[name] += await session.scalar(
                select(func.count()).where(model.span == span, model.day.in_(blocks[span]))
            )
        if days:
            read["day"] += await session.scalar(
                select(func.count()).where(
                    model.span == 1, or_(*(model.day.between(a, b) for a, b in days))
                )
            )
    read["answers_before"] = await session.scalar(
        select(func.count())
        .select_from(ResponseAnswer)
        .join(Response, Response.id == ResponseAnswer.response_id)
        .where(or_(*(Response.response_date.between(start, end) for start, end in ranges)))
    )
    return read


def report(name: str, figures: dict) -> bool:
    a, b, c = min(figures["a"]), min(figures["b"]), min(figures["c"])
    peak = figures["peak_mb"]
    checks = {
        f"(a) < {TARGET_A_SECONDS:g} s": a < TARGET_A_SECONDS,
        f"(a) <= {TARGET_A_RATIO:g}x (c)": a <= TARGET_A_RATIO * c,
        f"(b) < {TARGET_B_SECONDS:g} s": b < TARGET_B_SECONDS,
        f"(d) < {TARGET_DE_SECONDS:g} s": min(figures["d"]) < TARGET_DE_SECONDS,
        f"(e) by service < {TARGET_DE_SECONDS:g} s": min(figures["e_service"]) < TARGET_DE_SECONDS,
        f"(e) by channel < {TARGET_DE_SECONDS:g} s": min(figures["e_channel"]) < TARGET_DE_SECONDS,
        f"peak < {TARGET_MB} MB": peak < TARGET_MB,
    }

    def runs(values: list[float]) -> str:
        return ", ".join(f"{v:.3f}" for v in values)

    print(
        f"(a) quarter {QUARTER.label} by agency: best {a:.3f} s  [runs: {runs(figures['a'])}]"
        f"  n={figures['a_n']:,} groups={figures['a_groups']} SIPAS={figures['a_sipas']:.2f}"
    )
    print(
        f"(b) one agency's quarter:       best {b:.3f} s  [runs: {runs(figures['b'])}]"
        f"  n={figures['b_n']:,}"
    )
    print(
        f"(c) floor, SUM over {figures['c_rows']:,} answer values: best {c:.3f} s"
        f"  [runs: {runs(figures['c'])}]"
    )
    print(f"(a)/(c) = {a / c:.3f}")
    for label, title, period in (
        ("d", "by agency", UNALIGNED),
        ("e_service", "by service", SHORT),
        ("e_channel", "by channel", SHORT),
    ):
        best = min(figures[label])
        print(
            f"({label[0]}) {period.label} ({period.days} days) {title}: best {best:.3f} s"
            f"  [runs: {runs(figures[label])}]  n={figures[label + '_n']:,}"
            f" groups={figures[label + '_groups']}  ({label[0]})/(c) = {best / c:.3f}"
        )
    for label in ("d", "e"):
        rows = figures[label + "_rows"]
        print(
            f"rows read by ({label}) with its previous period: {rows['monthly']:,} monthly +"
            f" {rows['dekad']:,} dekad + {rows['pentad']:,} pentad + {rows['day']:,} day"
            " rollup rows; before the daily"
            " rollups:"
            f" {rows['monthly']:,} monthly rows + {rows['answers_before']:,} answers"
        )
    print(
        f"peak RSS of the report process ((a), (b), (d), (e)): {peak:.0f} MB"
        f" (interpreter and imports: "
        f"{figures['baseline_mb']:.0f} MB)"
    )
    for label, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'} {label}")
    print(f"{name}: {'all targets met' if all(checks.values()) else 'TARGET MISSED'}")
    return all(checks.values())


async def run_backend(name: str, args: argparse.Namespace, workdir: Path) -> bool:
    url = (
        f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        if name == "sqlite"
        else await create_postgres_database()
    )
    print(f"\n== {name}: {args.responses:,} responses ==", flush=True)
    try:
        database = Database(url)
        try:
            await migrate.upgrade(database)
            await load(database, args.responses, args.batch, args.seed)
        finally:
            await database.dispose()
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--measure",
            url,
            "--repeat",
            str(args.repeat),
            stdout=asyncio.subprocess.PIPE,
        )
        stdout, _ = await child.communicate()
        if child.returncode:
            raise RuntimeError(f"the measuring process failed ({child.returncode})")
        return report(name, json.loads(stdout))
    finally:
        if name == "postgresql" and not args.keep:
            await drop_postgres_database(url)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--batch", type=int, default=5000, help="responses per transaction")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each query")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(await measure(args.measure, args.repeat)))
        return 0
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    backends = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    ok = True
    with tempfile.TemporaryDirectory(prefix="sipas-bench-") as workdir:
        for name in backends:
            ok &= await run_backend(name, args, Path(workdir))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
