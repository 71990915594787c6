"""Benchmark: what one answer's turn costs in CPU, and how much of it is the ORM.

The saturation throughput of one bot process is bound by its CPU (bench/scale.py shows
it at ~100 %), and most of that CPU is the inbound turn. This measures, on one fresh
PostgreSQL database and in the same run, the CPU of this process per answer for:

  (1) the real turn: `InboundProcessor.take` of a pressed answer, as the bot runs it
      (its four statements through the ORM, and the survey's own logic);
  (2) the same four statements as text through SQLAlchemy Core, in one transaction;
  (3) the same four statements on the bare asyncpg driver (the floor).

It prints each as milliseconds and as a ratio to (3): the gap between (1) and (2) is
the ORM and the handler, the gap between (2) and (3) SQLAlchemy's execution layer.

    .venv/bin/python bench/turn_floor.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
from _databases import create_postgres_database, drop_postgres_database  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bot import migrate  # noqa: E402
from bot.database import _RECORD_AND_LOCK_CHAT, Database  # noqa: E402
from handlers.messages import Inbound, InboundKind  # noqa: E402
from tests.builders import make_code, make_processor, seed_catalog  # noqa: E402

CHATS = 50  # each answers about 21 questions of the 29: all within the survey
# The turn of a pressed answer, as the bot sends it (bot.inbound, handlers.survey): its
# first statement records the update's key and locks the chat (bot.database).
STATEMENTS = (
    _RECORD_AND_LOCK_CHAT.element.text.replace(":update_key", "$1")
    .replace(":processed_at", "$2")
    .replace(":channel", "'telegram'")
    .replace(":chat_key", "$3"),
    "SELECT * FROM survey_sessions WHERE chat_id = $1 AND status = 'active'",
    "UPDATE chats SET reply_seq = $1, delivered_seq = $2, last_replies = $3 WHERE id = $4",
    "UPDATE survey_sessions SET step = $1, answers = $2, history = $3 WHERE id = $4",
)


def as_text(statement: str) -> str:
    """An asyncpg statement with SQLAlchemy's named parameters ($1 -> :p1)."""
    for number in range(4, 0, -1):
        statement = statement.replace(f"${number}", f":p{number}")
    return statement


async def started_chats(database: Database) -> tuple[object, dict[str, int]]:
    """A processor and CHATS chats that have started a survey (chat -> reply number)."""
    processor = make_processor(database)
    code = await make_code(database, await seed_catalog(database), single_use=False)
    seqs = {}
    for chat in range(CHATS):
        start = Inbound("telegram", str(chat), InboundKind.TEXT, f"/start {code}", f"s{chat}")
        seqs[str(chat)] = (await processor.take(start)).seq
    return processor, seqs


async def measure(turn, answers: int) -> float:
    """CPU milliseconds of this process per call of `turn(i)`, after a warm-up."""
    for index in range(50):
        await turn(10**6 + index)
    started = time.process_time()
    for index in range(answers):
        await turn(index)
    return 1000 * (time.process_time() - started) / answers


async def bench(answers: int) -> None:
    url = await create_postgres_database()
    database = Database(url)
    raw = None
    try:
        await migrate.upgrade(database)
        processor, seqs = await started_chats(database)
        now = datetime.now(UTC)

        async def real(index: int) -> None:
            chat = str(index % CHATS)
            inbound = Inbound("telegram", chat, InboundKind.TEXT, "3", f"r{index}")
            taken = await processor.take(inbound, seqs[chat])
            seqs[chat] = taken.seq or seqs[chat]

        async def core(index: int) -> None:
            chat = str(index % CHATS)
            async with database.engine.begin() as connection:
                run = connection.execute
                first = {"p1": f"c{index}", "p2": now, "p3": chat}
                row = (await run(text(as_text(STATEMENTS[0])), first)).mappings().one()
                survey = (await run(text(as_text(STATEMENTS[1])), {"p1": row["id"]})).mappings()
                survey = survey.first()
                replies = {"p1": row["reply_seq"], "p2": row["delivered_seq"]}
                replies |= {"p3": row["last_replies"], "p4": row["id"]}
                await run(text(as_text(STATEMENTS[2])), replies)
                if survey is not None:
                    # Decoded on the way out, encoded on the way in, as the ORM's JSON type does.
                    values = {"p1": survey["step"], "p2": json.dumps(survey["answers"])}
                    values |= {"p3": json.dumps(survey["history"]), "p4": survey["id"]}
                    await run(text(as_text(STATEMENTS[3])), values)

        raw = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))

        async def bare(index: int) -> None:
            chat = str(index % CHATS)
            async with raw.transaction():
                row = await raw.fetchrow(STATEMENTS[0], f"b{index}", now, chat)
                survey = await raw.fetchrow(STATEMENTS[1], row["id"])
                seqs_ = (row["reply_seq"], row["delivered_seq"], row["last_replies"], row["id"])
                await raw.execute(STATEMENTS[2], *seqs_)
                if survey is not None:
                    values = (survey["step"], survey["answers"], survey["history"], survey["id"])
                    await raw.execute(STATEMENTS[3], *values)

        floor = await measure(bare, answers)
        figures = [
            ("real turn (ORM, survey logic)", await measure(real, answers)),
            ("same statements, SQLAlchemy Core", await measure(core, answers)),
            ("same statements, bare asyncpg", floor),
        ]
        print(f"One answer's turn on PostgreSQL, CPU of this process, {answers} answers each")
        print(f"  {'':36}{'ms/answer':>10}{'x floor':>9}")
        for label, cost in figures:
            print(f"  {label:36}{cost:>10.2f}{cost / floor:>9.1f}")
    finally:
        if raw is not None:
            await raw.close()
        await database.dispose()
        await drop_postgres_database(url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1000, help="turns measured per variant")
    asyncio.run(bench(parser.parse_args().answers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
