"""Real `python -m bot run` processes behind one webhook, and citizens who check the result.

`Fleet` runs N bot processes on one PostgreSQL database, each on its own port; the fake
Bot API server posts every update to one of them at random (a load balancer), some
to two at once, and posts again after a non-2xx or a broken connection, as Telegram
does. A process can be SIGKILLed and started again on the same port.

`Crowd` plays the citizens: each answers the first questions of the survey once, as
they are shown, and never re-sends anything; `check_exact` then compares what the
database holds with what they answered, and `doubled_prompts` counts the questions a
chat was shown more than once.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from aiohttp import ClientSession, ClientTimeout
from sqlalchemy import select, update

from bot.channels.telegram import WEBHOOK_PATH
from bot.clock import utc_now
from bot.database import Database
from bot.models import Chat, Dossier, OutboxMessage, ProcessedUpdate, SurveySession
from tests.bot.channels.telegram_harness import Q2017, bot_environment, free_port, prompt
from tests.builders import TRANSLATOR
from tests.dossier_helpers import record, scan_at, upsert, vn_time
from tests.fakes.telegram import FakeTelegram, FakeUser, SentMessage

STARTED_WITHIN = 40.0  # seconds a process may take to import, migrate and register
STOP_GRACE = 15.0
# Seconds before the fake Bot API posts an unacknowledged update again. Telegram waits
# too; at 50 ms a 3-second outage made 60 posts of one update, each counted by the
# chat's flood guard (bot.flood, before the update key is looked at), which then
# dropped the chat's next messages (acknowledged, never applied).
RETRY = 0.5
# What the bot says when an answer came for a question it does not know was shown.
NOT_SHOWN = TRANSLATOR("vi", "question_not_shown").split(",")[0]
STALE = TRANSLATOR("vi", "stale_button")[:20]  # then the current question comes again


@dataclass
class Slot:
    """One bot process's place behind the load balancer: its port stays, the process not."""

    index: int
    env: dict[str, str]
    log: Path
    process: asyncio.subprocess.Process | None = None
    kills: int = 0

    @property
    def url(self) -> str:
        return f"{self.env['PUBLIC_BASE_URL']}{WEBHOOK_PATH}"

    @property
    def base(self) -> str:
        return self.env["PUBLIC_BASE_URL"]


class Fleet:
    def __init__(
        self,
        fake: FakeTelegram,
        database: Database,
        workdir: Path,
        processes: int = 2,
        *,
        database_url: str | None = None,
        **environment: object,
    ):
        self.fake = fake
        base = bot_environment(database, fake, "webhook")
        base.update({key: str(value) for key, value in environment.items()})
        base["LOG_LEVEL"] = "WARNING"
        if database_url is not None:
            base["DATABASE_URL"] = database_url
        self.slots = []
        for index in range(processes):
            port = free_port()
            env = dict(base, HTTP_LISTEN=f"127.0.0.1:{port}")
            env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
            self.slots.append(Slot(index, env, workdir / f"bot{index}.log"))
        fake.targets = [slot.url for slot in self.slots]

    async def __aenter__(self) -> Fleet:
        await asyncio.gather(*(self.start(slot) for slot in self.slots))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(self.stop(slot) for slot in self.slots))
        if exc[0] is not None:
            print(self.logs())

    async def start(self, slot: Slot) -> None:
        """Start the slot's process; return once its webhook takes updates."""
        with slot.log.open("ab") as output:
            slot.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                cwd=slot.log.parent,
                env=slot.env,
                stdout=output,
                stderr=output,
            )
        deadline = time.monotonic() + STARTED_WITHIN
        async with ClientSession(timeout=ClientTimeout(total=2)) as client:
            while not await _accepting(client, slot):
                if slot.process.returncode is not None or time.monotonic() > deadline:
                    raise AssertionError(f"bot {slot.index} did not start:\n{self.logs()}")
                await asyncio.sleep(0.1)

    def kill(self, slot: Slot) -> None:
        """SIGKILL: no clean-up of any kind."""
        assert slot.process is not None
        slot.process.send_signal(signal.SIGKILL)
        slot.kills += 1

    async def restart(self, slot: Slot) -> None:
        assert slot.process is not None
        await slot.process.wait()
        await self.start(slot)

    async def stop(self, slot: Slot) -> None:
        process = slot.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE)
        except TimeoutError:
            process.kill()
            await process.wait()

    def logs(self) -> str:
        return "\n".join(
            f"--- bot {slot.index} ---\n{slot.log.read_text(errors='replace')[-4000:]}"
            for slot in self.slots
            if slot.log.exists()
        )


async def _accepting(client: ClientSession, slot: Slot) -> bool:
    """Whether the webhook answers an authentic request with something else than
    "not started" (an empty update is acknowledged without touching the database)."""
    headers = {
        "X-Telegram-Bot-Api-Secret-Token": slot.env["TELEGRAM_WEBHOOK_SECRET"],
        "Content-Type": "application/json",
    }
    try:
        async with client.post(slot.url, data=json.dumps({"update_id": 1}), headers=headers) as r:
            return r.status == 200
    except OSError:
        return False
    except TimeoutError:
        return False


# -- the citizens ----------------------------------------------------------------------


def answers_of(seed: int, questions: int) -> dict[str, int]:
    """Answers to the first `questions` questions (all Likert items), varying with `seed`."""
    rng = random.Random(seed)
    answers = {}
    for question in Q2017.questions[:questions]:
        values = [option.value for option in question.options] + [0] * question.no_opinion
        answers[question.id] = rng.choice(values)
    return answers


@dataclass
class Crowd:
    """Citizens who answer `questions` questions each; some tap every button twice, the
    two taps pinned to different processes."""

    fake: FakeTelegram
    codes: list[str]
    questions: int = 4
    double_tap_every: int = 5  # every fifth citizen taps twice
    first_chat: int = 70_000
    within: float = 60.0
    users: list[FakeUser] = field(default_factory=list)
    given: dict[int, dict[str, int]] = field(default_factory=dict)
    double_taps: int = 0
    answered: int = 0
    rejected: Counter[int] = field(default_factory=Counter)  # answers the bot did not count

    def __post_init__(self) -> None:
        self.users = [self.fake.user(self.first_chat + i) for i in range(len(self.codes))]

    def tapper(self, user: FakeUser) -> bool:
        return (user.chat_id - self.first_chat + 1) % self.double_tap_every == 0

    async def citizen(self, index: int, pause: tuple[float, float] = (0.0, 0.3)) -> None:
        """Answer each question once when it is shown; again only when the bot says the
        answer did not count (it thought the question had not been shown)."""
        user = self.users[index]
        answers = list(answers_of(user.chat_id, self.questions).items())
        given = self.given.setdefault(user.chat_id, {})
        await asyncio.sleep(random.uniform(*pause))
        user.send(f"/start {self.codes[index]}")
        message = await user.expect(prompt(0), within=self.within)
        step = 0
        while step < len(answers):
            item, value = answers[step]
            await asyncio.sleep(random.uniform(*pause))
            self._press(user, message, value)
            given[item] = value
            while True:
                seen = await user.expect(
                    lambda m, s=step: m.text.startswith(prompt(s + 1)) or NOT_SHOWN in m.text,
                    within=self.within,
                )
                if NOT_SHOWN not in seen.text:
                    break
                current = await user.expect(lambda m: m.text.startswith("Câu "), self.within)
                if current.text.startswith(prompt(step)):  # not counted: answer it again
                    self.rejected[user.chat_id] += 1
                    self._press(user, current, value)
                elif current.text.startswith(prompt(step + 1)):
                    seen = current
                    break
            message = seen
            step += 1
            self.answered += 1

    def _press(self, user: FakeUser, message: SentMessage, value: int) -> None:
        first = user.press_value(value, message)
        if self.tapper(user) and self.fake.targets and len(self.fake.targets) > 1:
            second = user.press_value(value, message)
            self.fake.pinned[first] = 0
            self.fake.pinned[second] = 1
            self.double_taps += 1

    async def run(self, pause: tuple[float, float] = (0.0, 0.3), budget: float = 90.0) -> None:
        """All citizens at once; raises if some are not done within `budget` seconds (a
        bound on the suite's time, not a latency target)."""
        tasks = [asyncio.create_task(self.citizen(i, pause)) for i in range(len(self.users))]
        done, late = await asyncio.wait(tasks, timeout=budget)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        failures = [task.exception() for task in done if task.exception() is not None]
        if late or failures:
            raise AssertionError(
                f"{len(late)} citizens not done in {budget:.0f} s, {len(failures)} failed "
                f"({failures[:1]}); {sum(self.rejected.values())} answers were not counted"
            )

    def doubled_prompts(self, chats: list[FakeUser] | None = None) -> Counter[int]:
        """Per chat, how many questions were shown more than once, not counting the
        current question shown again under the notice that a button was stale (the
        second of a double tap)."""
        doubled: Counter[int] = Counter()
        for user in chats if chats is not None else self.users:
            shown: Counter[str] = Counter()
            after_stale = False
            for message in user.messages:
                if message.text.startswith("Câu ") and not after_stale:
                    shown[message.text.split("\n", 1)[0]] += 1
                after_stale = message.text.startswith(STALE)
            doubled[user.chat_id] = sum(n - 1 for n in shown.values() if n > 1)
        return +doubled


async def stored_answers(database: Database) -> dict[int, dict[str, int]]:
    """The open survey's answers of every chat, by chat id."""
    async with database.transaction() as session:
        rows = await session.execute(
            select(Chat.chat_key, SurveySession.answers)
            .join(SurveySession, SurveySession.chat_id == Chat.id)
            .where(SurveySession.status == "active")
        )
        return {int(key): dict(answers or {}) for key, answers in rows}


async def applied_updates(database: Database) -> set[str]:
    async with database.transaction() as session:
        return set((await session.scalars(select(ProcessedUpdate.update_key))).all())


async def check_exact(
    database: Database, fake: FakeTelegram, crowd: Crowd, *, finished: bool = True
) -> None:
    """Every answer stored exactly as given (with `finished=False`: nothing stored that
    was not given, for citizens stopped half-way), every update applied once and
    acknowledged."""
    await fake.wait_until(lambda: not fake.pending, within=30)
    stored = await stored_answers(database)
    wrong = {}
    for chat, given in crowd.given.items():
        mine = stored.get(chat, {})
        if mine != given and (finished or any(given.get(k) != v for k, v in mine.items())):
            wrong[chat] = (mine, given)
    assert not wrong, f"{len(wrong)} chats differ, e.g. {list(wrong.items())[:3]}"
    assert len(fake.confirmed) == len(set(fake.confirmed))  # acknowledged once each
    applied = await applied_updates(database)
    acknowledged = {f"telegram:{u}" for u in fake.confirmed}
    assert applied == acknowledged, (
        f"applied, not acknowledged: {sorted(applied - acknowledged)[:5]}; "
        f"acknowledged, not applied: {sorted(acknowledged - applied)[:5]}"
    )


def environment_fast(**overrides: object) -> dict[str, object]:
    """Limits lifted for fault runs that are not about rates (FAST in telegram_harness)."""
    values: dict[str, object] = {
        "OUTBOX_PLATFORM_RATES": json.dumps({"telegram": 1000}),
        "OUTBOX_POLL_SECONDS": 0.2,
        "OUTBOX_BACKOFF_SECONDS": 0.5,
        "OUTBOX_BACKOFF_MAX_SECONDS": 2,
        "OUTBOX_MAX_ATTEMPTS": 30,
        # The lease stays at its default (120 s): a shorter one runs out while a sender
        # waits out 429s, and the other process sends the message again.
        "OFFICIALS_TICK_SECONDS": 5,
        # The flood guard counts every post of an update, redeliveries too (it runs
        # before the update key is looked at): after an outage, or answers rejected
        # again and again, it drops (and acknowledges) a chat's next messages.
        "SURVEY_FLOOD_MESSAGES": 10_000,
    }
    values.update(overrides)
    return values


async def late_notices(database: Database, count: int, first_chat: int) -> None:
    """`count` apology notices in the outbox, each for a dossier linked to its own
    Telegram chat (first_chat, first_chat + 1, ...); due in 2027 until `make_due`."""
    await upsert(database, [record(f"D{i}") for i in range(count)], vn_time(2027, 2, 1))
    async with database.transaction() as session:
        for i in range(count):
            chat = Chat(
                channel="telegram", chat_key=str(first_chat + i), created_at=vn_time(2027, 2, 1)
            )
            session.add(chat)
            await session.flush()
            await session.execute(
                update(Dossier).where(Dossier.code == f"D{i}").values(chat_id=chat.id)
            )
    assert (await scan_at(database, vn_time(2027, 2, 4))).notices == count


async def make_due(database: Database) -> None:
    """Every outbox message falls due now."""
    async with database.transaction() as session:
        await session.execute(
            update(OutboxMessage).values(next_attempt_at=utc_now() - timedelta(minutes=1))
        )


async def outcome(step: Awaitable[object]) -> AssertionError | None:
    """The assertion `step` failed with, or None: a scenario run once records what
    failed, and each test reading it raises its own part."""
    try:
        await step
    except AssertionError as error:
        return error
    return None
