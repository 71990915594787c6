"""Benchmark: the apology scan over a million dossiers, and the outbox to Telegram.

For each database (SQLite file, PostgreSQL):

  (1) N dossiers (default 1,000,000; 200 agencies), 2 % of them past their appointment
      date and unfinished, the rest finished or still on time, bulk-loaded;
  (2) the first scan, which issues one apology notice per late dossier (20,000,
      inserted set-based) and queues them in the outbox, timed; target < 2 s;
  (3) a second scan, which must issue none, timed; target < 2 s;
  (4) --notices (3,000) of those notices linked to Telegram chats and sent by the
      outbox sender to the fake Bot API server (tests/fakes/telegram.py) over HTTP with
      python-telegram-bot, once through the Telegram channel's send() and once through
      the sender's own thin PTB lane (--lanes), paced at --rate (100/s: the limit the
      sender is given), while the fake answers a share of the calls (--flood-rate,
      retry_after 1 s, for that chat) with 429. Targets: achieved rate >= 90 % of the
      limit, and zero lost (every chat got its notice, every row is `sent`).

    .venv/bin/python bench/dossiers.py                          # both databases
    .venv/bin/python bench/dossiers.py --dossiers 100000 --database sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _databases import create_postgres_database, drop_postgres_database  # noqa: E402
from sqlalchemy import func, insert, select, update  # noqa: E402

from bot import migrate  # noqa: E402
from bot.channels import telegram as telegram_channel  # noqa: E402
from bot.cli.compose import build_processor  # noqa: E402
from bot.database import Database  # noqa: E402
from bot.i18n import Translator  # noqa: E402
from bot.models import Agency, ApologyNotice, Chat, Dossier, OutboxMessage, Service  # noqa: E402
from bot.outbox import OutboxSender  # noqa: E402
from bot.settings import OutboxSettings, Settings, SurveySettings, TelegramSettings  # noqa: E402
from bot.web import build_app  # noqa: E402
from handlers.dossiers.apologies import renderers, scan  # noqa: E402
from handlers.dossiers.workdays import WorkCalendar  # noqa: E402
from tests.builders import ZONE  # noqa: E402
from tests.fakes.telegram import TOKEN, FakeTelegram  # noqa: E402

AGENCIES, SERVICES = 200, 50
LATE_SHARE = 0.02
SCAN_AT = datetime(2027, 3, 4, 8, 0, tzinfo=ZONE).astimezone(UTC)  # Thursday morning
TODAY = date(2027, 3, 4)
TARGET_SCAN_SECONDS, TARGET_RATE_SHARE = 2.0, 0.9


# --------------------------------------------------------------------------- data


def dossier_rows(count: int, seed: int = 1):
    """Tuples in COLUMNS order: 2 % late, 49 % returned, 49 % open and on time."""
    rng = random.Random(seed)
    late_every = round(1 / LATE_SHARE)
    for i in range(count):
        received = SCAN_AT - timedelta(days=rng.randint(10, 60))
        if i % late_every == 0:
            state, due, closed = 4, TODAY - timedelta(days=rng.randint(1, 9)), None
            watch = due
        elif i % 2:
            state, due, closed = 10, TODAY - timedelta(days=rng.randint(1, 9)), received
            watch = None
        else:
            state, due, closed = 4, TODAY + timedelta(days=rng.randint(0, 20)), None
            watch = due
        yield (
            i + 1,
            f"H{i:09d}",
            i % AGENCIES + 1,
            i % SERVICES + 1,
            f"P{i % SERVICES:03d}",
            f"Thủ tục số {i % SERVICES}",
            "Nguyễn Văn An",
            f"8491{i % 10_000_000:07d}",
            received,
            received.astimezone(ZONE).date(),
            due,
            state,
            received,
            closed,
            closed,
            due,
            0,
            watch,
            received,
            received,
        )


COLUMNS = [
    *("id", "code", "agency_id", "service_id", "procedure_code", "procedure_name"),
    *("citizen_name", "phone", "received_at", "received_on", "appointment_date", "state"),
    *("state_changed_at", "returned_at", "closed_at", "due_date", "stage", "watch_date"),
    *("created_at", "updated_at"),
]


async def load(database: Database, count: int) -> float:
    started = time.perf_counter()
    async with database.transaction() as session:
        await session.execute(
            insert(Agency),
            [
                {
                    "id": a,
                    "code": f"A{a:03d}",
                    "name": f"UBND xã số {a}",
                    "name_folded": f"ubnd xa so {a}",
                    "level": "commune",
                }
                for a in range(1, AGENCIES + 1)
            ],
        )
        await session.execute(
            insert(Service),
            [
                {"id": s, "code": f"P{s - 1:03d}", "name": f"Thủ tục số {s - 1}", "name_folded": ""}
                for s in range(1, SERVICES + 1)
            ],
        )
    async with database.engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        if database.is_sqlite:
            rows = (_sqlite_row(row) for row in dossier_rows(count))
            marks = ", ".join("?" for _ in COLUMNS)
            await raw.execute("BEGIN IMMEDIATE")
            await raw.executemany(
                f"INSERT INTO dossiers ({', '.join(COLUMNS)}) VALUES ({marks})", rows
            )
            await raw.commit()
            await raw.execute("ANALYZE")
        else:
            await raw.copy_records_to_table(
                "dossiers", records=dossier_rows(count), columns=COLUMNS
            )
            await raw.execute("SELECT setval('dossiers_id_seq', $1)", count)
            await raw.execute("ANALYZE dossiers")
        await connection.commit()
    return time.perf_counter() - started


def _sqlite_row(row: tuple) -> tuple:
    """SQLAlchemy's SQLite storage: UTC datetimes without zone, ISO dates."""
    return tuple(
        value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, datetime)
        else value.isoformat()
        if isinstance(value, date)
        else value
        for value in row
    )


# --------------------------------------------------------------------------- measures


async def timed_scan(database: Database) -> tuple[float, int]:
    calendar = WorkCalendar()
    started = time.perf_counter()
    async with database.transaction() as session:
        report = await scan(
            session,
            SCAN_AT,
            calendar=calendar,
            zone=ZONE,
            new_date_working_days=5,
            template="tt03-2025",
        )
    return time.perf_counter() - started, report.notices


async def prepare_outbox(database: Database, notices: int) -> list[int]:
    """Link `notices` late dossiers to Telegram chats; the other notices count as handed over."""
    async with database.transaction() as session:
        picked = list(
            await session.scalars(
                select(ApologyNotice.dossier_id).order_by(ApologyNotice.id).limit(notices)
            )
        )
        chat_ids = [700_000_000 + n for n in range(len(picked))]
        await session.execute(
            insert(Chat),
            [
                {"channel": "telegram", "chat_key": str(key), "created_at": SCAN_AT}
                for key in chat_ids
            ],
        )
        rows = await session.execute(
            select(Chat.chat_key, Chat.id).where(Chat.channel == "telegram")
        )
        by_key = {key: chat_id for key, chat_id in rows}
        await session.execute(
            update(Dossier),
            [
                {"id": dossier_id, "chat_id": by_key[str(key)]}
                for dossier_id, key in zip(picked, chat_ids, strict=True)
            ],
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dossier_id.not_in(picked))
            .values(status="counter", route="counter")
        )
    return chat_ids


class BotLane:
    """The Channel protocol straight over PTB's Bot: each 429 reaches the outbox sender,
    which retries that message alone. The other lane, TelegramChannel.send, waits 429s
    out inside the channel; both must keep the rate."""

    name = "telegram"

    def __init__(self, bot):
        self.bot = bot

    async def send(self, chat_key: str, replies) -> None:
        for reply in replies:
            await self.bot.send_message(int(chat_key), reply.text)


LANES = {"bot": "the sender's own lane (PTB Bot)", "channel": "TelegramChannel.send"}


async def reset_outbox(database: Database) -> None:
    """The linked notices pending again, as the scan left them."""
    async with database.transaction() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status != "counter")
            .values(
                status="pending",
                attempts=0,
                uncertain=0,
                route=None,
                sent_at=None,
                lease_until=None,
                next_attempt_at=SCAN_AT,
            )
        )


async def send_outbox(
    database: Database, chat_ids: list[int], rate: float, flood: float, lane: str
):
    translator = Translator.load()
    async with FakeTelegram(flood_rate=flood, retry_after=1, seed=11) as fake:
        settings = Settings(
            database_url=database.url,
            telegram=TelegramSettings(
                bot_token=TOKEN,
                api_base_url=fake.base_url,
                chat_rate=1000,
                chat_burst=1000,
                global_rate=10_000,
                bulk_rate=10_000,
            ),
            survey=SurveySettings(),
        )
        processor = build_processor(database, settings, {}, translator)
        channel = telegram_channel.build(settings, processor, build_app(database))
        await channel.bot.initialize()
        sender = OutboxSender(
            database,
            OutboxSettings(rate_share=1.0, platform_rates={"telegram": rate}, batch_size=500),
            {"telegram": channel if lane == "channel" else BotLane(channel.bot)},
            renderers(translator),
            clock=lambda: SCAN_AT + timedelta(seconds=time.monotonic()),
        )
        try:
            started = time.perf_counter()
            report = await sender.drain()
            elapsed = time.perf_counter() - started
        finally:
            await channel.bot.shutdown()
        delivered = {message.chat_id for message in fake.sent}
        async with database.transaction() as session:
            rows = await session.execute(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.status != "counter")
                .group_by(OutboxMessage.status)
            )
            statuses = {status: count for status, count in rows}
        return {
            "elapsed": elapsed,
            "report": report,
            "floods": len(fake.floods),
            "violations": fake.flood_violations,
            "messages": len(fake.sent),
            "lost": len(set(chat_ids) - delivered),
            "statuses": statuses,
        }


# --------------------------------------------------------------------------- runs


async def run(backend: str, args: argparse.Namespace) -> bool:
    with tempfile.TemporaryDirectory() as workdir:
        url = (
            f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}"
            if backend == "sqlite"
            else await create_postgres_database()
        )
        database = Database(url)
        try:
            await migrate.upgrade(database)
            loaded = await load(database, args.dossiers)
            late = len(range(0, args.dossiers, round(1 / LATE_SHARE)))
            print(
                f"[{backend}] {args.dossiers:,} dossiers loaded in {loaded:.1f} s ({late:,} late)"
            )
            first, created = await timed_scan(database)
            second, again = await timed_scan(database)
            ok_scan = (
                created == late
                and again == 0
                and first < TARGET_SCAN_SECONDS
                and second < TARGET_SCAN_SECONDS
            )
            print(f"[{backend}] first scan:  {first:6.3f} s, {created:,} notices (target < 2 s)")
            print(f"[{backend}] second scan: {second:6.3f} s, {again:,} notices (target < 2 s)")
            chat_ids = await prepare_outbox(database, min(args.notices, created))
            ok_send = True
            for lane in args.lanes:
                await reset_outbox(database)
                sent = await send_outbox(database, chat_ids, args.rate, args.flood_rate, lane)
                achieved = len(chat_ids) / sent["elapsed"]
                report = sent["report"]
                ok = (
                    achieved >= TARGET_RATE_SHARE * args.rate
                    and sent["lost"] == 0
                    and sent["statuses"] == {"sent": len(chat_ids)}
                )
                ok_send = ok_send and ok
                print(
                    f"[{backend}] outbox via {LANES[lane]}: {len(chat_ids):,} notices in "
                    f"{sent['elapsed']:.1f} s = {achieved:.1f}/s of a {args.rate:.0f}/s limit "
                    f"({achieved / args.rate:.0%}; target >= {TARGET_RATE_SHARE:.0%}) "
                    f"{'ok' if ok else 'MISSED'}"
                )
                print(
                    f"[{backend}]   429s injected {sent['floods']}, lost {sent['lost']}, "
                    f"messages at the server {sent['messages']:,}, rows {sent['statuses']}, "
                    f"429s the sender saw {report.rate_limited}, uncertain sends "
                    f"{report.uncertain}, flood-control violations {sent['violations']}"
                )
            verdict = "PASS" if ok_scan and ok_send else "FAIL"
            print(f"[{backend}] {verdict}")
            return ok_scan and ok_send
        finally:
            await database.dispose()
            if backend != "sqlite":
                await drop_postgres_database(url)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--notices", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--flood-rate", type=float, default=0.005)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--lanes",
        nargs="+",
        choices=list(LANES),
        default=["bot", "channel"],
        help="send through the sender's own PTB lane and/or the Telegram channel's send()",
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results = [await run(backend, args) for backend in backends]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
