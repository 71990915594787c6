"""Benchmark: survey reminders over five simulated days, with the injected clock.

--citizens (100) start a survey at random local times (day and evening alike), answer
a random number of questions and go quiet. Every 10 simulated minutes two processes
(two Database objects on one database) run the reminder job and two outbox senders
drain, all through the real inbound path, job and outbox. Half of the citizens who get
a reminder come back some minutes later (they answer the reminder's question, a few
more, and go quiet again). It prints, checked against an independent count:

  sent      reminders delivered;
  eligible  sessions with a legal moment for one: a 10-minute tick at or after
            SURVEY_REMINDER_HOURS of silence, before the 24 h window closes, by day;
  duplicates, at night (21:00-07:00 local), outside the window: all must be 0,
            and sent == eligible.

    .venv/bin/python bench/reminders.py                       # SQLite
    .venv/bin/python bench/reminders.py --database postgresql --seed 7
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
from collections import Counter
from datetime import datetime, time, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _databases import create_postgres_database, drop_postgres_database  # noqa: E402

from bot import migrate  # noqa: E402
from bot.database import Database  # noqa: E402
from bot.outbox import OutboxSender, outbox_counts  # noqa: E402
from bot.settings import OutboxSettings  # noqa: E402
from handlers.messages import Outbound  # noqa: E402
from handlers.survey import reminders  # noqa: E402
from tests.builders import (  # noqa: E402
    QUESTIONNAIRES,
    TRANSLATOR,
    ZONE,
    Citizen,
    FakeClock,
    make_code,
    make_processor,
    make_settings,
    seed_catalog,
)

TICK = timedelta(minutes=10)
START = datetime(2026, 11, 23, 0, 0, tzinfo=ZONE)
DAYS = 5


class Recorder:
    """The running Telegram channel, as the outbox sees it: records each reminder."""

    name = "telegram"

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.sent: list[tuple[str, datetime, Outbound]] = []

    async def send(self, chat_key: str, replies: list[Outbound]) -> None:
        self.sent.extend((chat_key, self.clock(), reply) for reply in replies)


def by_day(moment: datetime) -> bool:
    return time(7) <= moment.astimezone(ZONE).time() < time(21)


def legal_tick(last: datetime, wait: timedelta) -> bool:
    """Independently of the code: is there a tick in [last + wait, last + 24 h) by day?"""
    tick = START + ((last + wait - START + TICK - timedelta(microseconds=1)) // TICK) * TICK
    while tick < last + reminders.FREE_WINDOW:
        if by_day(tick):
            return True
        tick += TICK
    return False


async def answer(citizen: Citizen, count: int) -> None:
    for _ in range(count):
        if not citizen.last.choices:
            return
        await citizen.press(citizen.last.choices[0].payload)


async def simulate(url: str, citizens: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    one, two = Database(url), Database(url)
    try:
        settings = make_settings(one)
        wait = timedelta(hours=settings.survey.reminder_hours)
        clock = FakeClock(START)
        catalog = await seed_catalog(one)
        processor = make_processor(one, clock, settings)
        channel = Recorder(clock)
        outbox = OutboxSettings(platform_rates={"telegram": 10_000.0})
        senders = [
            OutboxSender(
                database,
                outbox,
                {"telegram": channel},
                reminders.renderers(settings, TRANSLATOR, QUESTIONNAIRES, clock),
                clock=clock,
            )
            for database in (one, two)
        ]
        ticks = DAYS * 24 * 6
        starts = {f"c{i}": START + TICK * rng.randrange(ticks // 2) for i in range(citizens)}
        comers: set[str] = set()  # every second citizen reminded comes back
        people = {key: Citizen(processor, key) for key in starts}
        last: dict[str, datetime] = {}  # each citizen's last message
        returns: dict[str, datetime] = {}
        seen = 0
        for step in range(ticks):
            clock.now = START + TICK * step
            for key, at in starts.items():
                if at == clock.now:  # arrives, answers a few questions, goes quiet
                    citizen = people[key]
                    await citizen.say(f"/start {await make_code(one, catalog)}")
                    await answer(citizen, rng.randint(1, 24))
                    last[key] = clock.now
            for key, at in list(returns.items()):
                if at == clock.now:  # comes back after the reminder, then quiet again
                    citizen = people[key]
                    await answer(citizen, 1 + rng.randint(0, 3))
                    last[key] = clock.now
                    del returns[key]
            await reminders.run_due(one, settings, clock.now)
            await reminders.run_due(two, make_settings(two), clock.now)
            for sender in senders:
                await sender.drain()
            for key, sent_at, reply in channel.sent[seen:]:
                citizen = people[key]
                citizen.replies = [reply]  # the reminder's question is on screen
                if seen % 2 == 0:  # the 1st, 3rd, 5th… reminded come back
                    comers.add(key)
                    returns[key] = sent_at + TICK * rng.randint(1, 18)
                seen += 1
        counts = Counter(key for key, _, _ in channel.sent)
        async with one.transaction() as session:
            rows = await outbox_counts(session, "reminder")
        # the last message before each reminder: the citizen's stop (they come back after)
        first_stop = {key: starts[key] for key in starts}
        eligible = sum(legal_tick(first_stop[key], wait) for key in starts)
        return {
            "citizens": citizens,
            "reminders sent": len(channel.sent),
            "sessions eligible": eligible,
            "duplicates": sum(n - 1 for n in counts.values() if n > 1),
            "sent at night": sum(not by_day(at) for _, at, _ in channel.sent),
            "sent outside the window": sum(
                at >= first_stop[key] + reminders.FREE_WINDOW for key, at, _ in channel.sent
            ),
            "came back after it": len(comers),
            "reminder rows cancelled": rows.get("cancelled", 0),
        }
    finally:
        await one.dispose()
        await two.dispose()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.database == "sqlite":
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
        else:
            url = await create_postgres_database()
        try:
            database = Database(url)
            await migrate.upgrade(database)
            await database.dispose()
            figures = await simulate(url, args.citizens, args.seed)
        finally:
            if args.database == "postgresql":
                await drop_postgres_database(url)
    for name, value in figures.items():
        print(f"{name:>24}: {value}")
    ok = (
        figures["reminders sent"] == figures["sessions eligible"]
        and figures["duplicates"] == figures["sent at night"] == 0
        and figures["sent outside the window"] == 0
    )
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
