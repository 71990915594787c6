"""Benchmark: citizens take the survey on Telegram, through the fake Bot API server.

Webhook mode, on SQLite and on PostgreSQL. The bot runs as its own process
(`python -m bot run`), the fake server and the simulated citizens in this one, so
each has a core. Latency runs from the fake server's first POST of an answer to
the arrival of the bot's next message (the next question) at the fake server.

  (1) Saturation: --saturation-citizens (50) answer without pause for
      --saturation-seconds; answers/s of ours and of the baseline, a bare
      python-telegram-bot Application in the same mode that makes the same Bot API
      calls per update (answer the callback, send the next question) but stores
      nothing. Target: ours / baseline >= 0.6 with PTB as it comes (httpx); the
      ratio against the same baseline on the bot's own transport
      (aiohttp) is printed too: it shows what storing an answer costs. A third
      baseline also removes the pressed keyboard by an edit (the bot's design before
      one message call per answer): its calls per answer are the comparison.
  (2) National peak: --citizens (500) in flight for --seconds (60), each pausing
      2-8 s before every answer (about 100 answers/s offered); they arrive (/start)
      over the 10 s before, which are not counted. Targets: p99 < 250 ms; no answer
      lost or doubled (the database is counted against the answers sent).

  Every run also prints the Bot API calls per answer, counted by the fake server for
  each answer whose reply came: message calls (send, edit: Telegram's ~30/s per bot
  are counted in these, so a token carries 30 / that many answers a second) and
  answerCallbackQuery (stops a press's spinner; not a message).

    .venv/bin/python bench/telegram_throughput.py
    .venv/bin/python bench/telegram_throughput.py --seconds 10 --citizens 100 \\
        --saturation-seconds 5 --databases sqlite                 # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

BENCH_FILE = Path(__file__).resolve()
ROOT = BENCH_FILE.parent.parent
sys.path.insert(0, str(ROOT))

from _databases import POSTGRES_ADMIN_DSN, create_postgres_database, drop_postgres_database  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bot import migrate  # noqa: E402
from bot.database import Database  # noqa: E402
from bot.models import (  # noqa: E402
    Chat,
    PooledResponse,
    ProcessedUpdate,
    Response,
    ResponseAnswer,
    SurveySession,
)
from tests.builders import QUESTIONNAIRES, TRANSLATOR, make_code, seed_catalog  # noqa: E402
from tests.fakes.telegram import TOKEN, FakeTelegram, FakeUser, SentMessage  # noqa: E402

TELEGRAM_MESSAGES_PER_SECOND = 30  # a bot's overall limit, as Telegram documents it

Q2017 = QUESTIONNAIRES["sipas-2017"]
QUESTIONS = len(Q2017.questions)
SECRET = "bench-webhook-secret-0123456789"
THANKS = TRANSLATOR("vi", "thanks").splitlines()[0]
# The bot's answer to a typed answer that came before it knew its question was shown.
NOT_SHOWN = TRANSLATOR("vi", "question_not_shown").split(",")[0]
# The fake is not Telegram: for saturation nothing may hold the bot back. For the peak,
# each chat keeps Telegram's pace (1 message/s, bursts of 4) but the overall limit is
# raised, since 100 answers/s need about 100 messages/s (see the report's note).
SATURATION_WARMUP = 2.0
# The peak's citizens arrive over this many seconds (their /start), not counted: the
# figures are of the steady state with all of them in flight.
PEAK_RAMP = 10.0
# ... and the queue their 500 first contacts leave (SQLite applies them one at a time)
# is given this long to drain before the window opens; its latencies are printed apart.
PEAK_SETTLE = 10.0
SATURATION_LIMITS = {"CHAT_RATE": 1000, "CHAT_BURST": 1000, "GLOBAL_RATE": 10000}
PEAK_LIMITS = {"CHAT_RATE": 1, "CHAT_BURST": 4, "GLOBAL_RATE": 1000}


def answers_plan(seed: int) -> dict[str, int | str]:
    """Every question answered (the gate "yes"), values varying with the seed."""
    rng = random.Random(seed)
    plan: dict[str, int | str] = {}
    for question in Q2017.questions:
        if question.options:
            values = [option.value for option in question.options]
            if question.no_opinion:
                values.append(0)
            plan[question.id] = rng.choice(values)
        else:
            plan[question.id] = f"Ý kiến số {seed}."
    plan["feedback_given"] = 1
    return plan


def prompt(index: int) -> str:
    return f"Câu {index + 1}/{QUESTIONS}\n"


# -- the simulated citizens ----------------------------------------------------------------


@dataclass
class Tally:
    """What the citizens did and saw."""

    latencies: list[tuple[float, float]] = field(default_factory=list)  # (reply at, seconds)
    updates: int = 0
    answers: int = 0
    completed: int = 0
    completed_answers: int = 0
    given: dict[int, dict[str, int | str]] = field(default_factory=dict)  # open surveys
    replied: list[int] = field(default_factory=list)  # answers' update ids, reply seen
    not_counted: int = 0  # typed answers the bot asked again (question not known shown)


class Citizens:
    def __init__(self, fake: FakeTelegram, code: str, tally: Tally, seed: int = 1):
        self.fake = fake
        self.code = code
        self.tally = tally
        self.rng = random.Random(seed)
        self._chat_ids = iter(range(10_000_000, 99_999_999))

    async def survey(self, pause: tuple[float, float] | None, stop_at: float) -> bool:
        """One citizen's survey, in a fresh chat; False if the time ran out first."""
        chat_id = next(self._chat_ids)
        user = self.fake.user(chat_id)
        plan = answers_plan(chat_id)
        given: dict[str, int | str] = {}
        self.tally.given[chat_id] = given
        user.send(f"/start {self.code}")
        self.tally.updates += 1
        pending: int | None = None
        value: int | str = 0
        for index in range(QUESTIONS):
            message = await self._next(user, prompt(index), value)
            if pending is not None:
                self._reply_arrived(pending, message.at)
            if pause is not None:
                await asyncio.sleep(self.rng.uniform(*pause))
            if time.monotonic() >= stop_at:
                return False
            question = Q2017.questions[index]
            value = plan[question.id]
            pending = self._answer(user, message, value)
            given[question.id] = value
            self.tally.answers += 1
        thanks = await self._next(user, THANKS, value)
        self._reply_arrived(pending, thanks.at)
        del self.tally.given[chat_id]
        self.tally.completed += 1
        self.tally.completed_answers += len(given)
        return True

    def _answer(self, user: FakeUser, question: SentMessage, value: int | str) -> int:
        """Answer the question shown: the open suggestion typed, the others pressed."""
        self.tally.updates += 1
        if isinstance(value, str):
            return user.send(value)
        return user.press_value(value, question)

    async def _next(self, user: FakeUser, wanted: str, last: int | str) -> SentMessage:
        """The message containing `wanted`. A typed answer that reached one process before
        the other one had recorded sending its question is not counted: the bot says so
        and shows the question again, and the citizen answers it again (counted)."""
        while True:
            message = await user.expect(lambda m: wanted in m.text or NOT_SHOWN in m.text, 120)
            if NOT_SHOWN not in message.text:
                return message
            self.tally.not_counted += 1
            current = await user.expect(lambda m: m.text.startswith("Câu "), within=120)
            self._answer(user, current, last)

    def _reply_arrived(self, update_id: int, at: float) -> None:
        posted = self.fake.first_delivered_at[update_id]
        self.tally.latencies.append((at, at - posted))
        self.tally.replied.append(update_id)

    async def keep_answering(self, pause: tuple[float, float] | None, stop_at: float) -> None:
        """Survey after survey (a new chat each time) until the time is up."""
        while time.monotonic() < stop_at:
            await self.survey(pause, stop_at)


# -- the bots under test ---------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def start_bot(
    kind: str, fake: FakeTelegram, database_url: str | None, limits: dict[str, float], log: Path
) -> asyncio.subprocess.Process:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
        "HTTP_LISTEN": f"127.0.0.1:{port}",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        **{f"TELEGRAM_{name}": str(value) for name, value in limits.items()},
    }
    if kind == "ours":
        assert database_url is not None
        command = [sys.executable, "-m", "bot", "run"]
        env["DATABASE_URL"] = database_url
    else:
        command = [sys.executable, str(BENCH_FILE), "--serve-baseline"]
        transport, _, design = kind.removeprefix("baseline-").partition("-")
        env["BASELINE_TRANSPORT"] = transport
        env["BASELINE_REMOVES_KEYBOARD"] = "1" if design == "edit" else ""
    calls_before = len(fake.calls)
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            *command, cwd=log.parent, env=env, stdout=output, stderr=output
        )
    deadline = time.monotonic() + 60
    while not any(c.method == "setWebhook" for c in fake.calls[calls_before:]):
        if time.monotonic() > deadline or process.returncode is not None:
            output = await asyncio.to_thread(log.read_text)
            raise RuntimeError(f"{kind} bot did not start:\n{output[-3000:]}")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    return process


async def stop_bot(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()


# -- databases -----------------------------------------------------------------------------


async def new_database(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}"
    return await create_postgres_database()


async def drop_database(url: str) -> None:
    if not url.startswith("sqlite"):
        await drop_postgres_database(url)


async def prepared(url: str) -> str:
    """Migrate and seed; returns a counter code (one response per chat a day)."""
    database = Database(url)
    try:
        await migrate.upgrade(database)
        return await make_code(database, await seed_catalog(database), single_use=False)
    finally:
        await database.dispose()


async def count_stored(url: str, tally: Tally) -> tuple[int, int, int]:
    """(answers stored, answers in the wrong place, updates applied).

    Completed answers wait in the pool until their day is published, so both the pool
    and the responses are counted (a response published meanwhile counts once).
    """
    database = Database(url)
    try:
        async with database.transaction() as session:
            in_responses = await session.scalar(select(func.count()).select_from(ResponseAnswer))
            responses = await session.scalar(select(func.count()).select_from(Response))
            held = (await session.scalars(select(PooledResponse.answers))).all()
            in_responses += sum(len(answers) for answers in held)
            responses += len(held)
            applied = await session.scalar(select(func.count()).select_from(ProcessedUpdate))
            rows = await session.execute(
                select(Chat.chat_key, SurveySession.answers)
                .join(SurveySession, SurveySession.chat_id == Chat.id)
                .where(SurveySession.status == "active")
            )
            open_answers = {int(key): answers or {} for key, answers in rows}
    finally:
        await database.dispose()
    stored = in_responses + sum(len(answers) for answers in open_answers.values())
    wrong = abs(responses - tally.completed) + sum(
        answers != tally.given.get(chat_id, {}) for chat_id, answers in open_answers.items()
    )
    return stored, wrong, applied


# -- runs ----------------------------------------------------------------------------------


async def tally_up(result: Result, fake: FakeTelegram, tally: Tally, url: str | None) -> None:
    """Fill in `result`'s calls per answer and, when the bot stores (`url`), what it lost,
    doubled or misplaced against what the citizens sent."""
    await asyncio.sleep(0.5)  # the last presses' answerCallbackQuery calls land
    replied = tally.replied or [0]
    result.message_calls = sum(map(fake.message_calls_for, replied)) / len(replied)
    result.query_calls = sum(
        fake.calls_for(update)["answerCallbackQuery"] for update in replied
    ) / len(replied)
    if url is None:
        return
    await fake.wait_until(lambda: not fake.pending, within=30)
    stored, wrong, applied = await count_stored(url, tally)
    sent = tally.completed_answers + sum(len(g) for g in tally.given.values())
    result.lost = max(0, sent - stored)
    result.doubled = max(0, stored - sent) + max(0, applied - tally.updates)
    result.wrong = wrong + max(0, tally.updates - applied)
    result.not_counted = tally.not_counted


@dataclass
class Result:
    label: str
    answers: int
    seconds: float
    latencies: list[float]
    bot_cpu: float
    harness_cpu: float
    lost: int | None = None
    doubled: int | None = None
    wrong: int | None = None
    not_counted: int = 0  # typed answers asked again (Tally.not_counted)
    message_calls: float = 0.0  # per answer: sendMessage, editMessage… (Telegram's limit)
    query_calls: float = 0.0  # per answer: answerCallbackQuery

    def calls(self) -> str:
        return f"{self.message_calls:.2f} + {self.query_calls:.2f}"

    @property
    def rate(self) -> float:
        return self.answers / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0


async def run(
    kind: str,
    backend: str | None,
    citizens: int,
    seconds: float,
    pause: tuple[float, float] | None,
    workdir: Path,
) -> Result:
    warmup = SATURATION_WARMUP if pause is None else PEAK_RAMP + PEAK_SETTLE
    url = await new_database(backend, workdir) if kind == "ours" else None
    try:
        code = await prepared(url) if url else "BASELINE2345"
        async with FakeTelegram(max_connections=200) as fake:
            limits = SATURATION_LIMITS if pause is None else PEAK_LIMITS
            bot = await start_bot(kind, fake, url, limits, workdir / f"{kind}.log")
            tally = Tally()
            crowd = Citizens(fake, code, tally)
            started = time.monotonic()
            stop_at = started + warmup + seconds
            cpu_bot, cpu_self = cpu_seconds(bot.pid), own_cpu_seconds()

            async def citizen(delay: float) -> None:
                await asyncio.sleep(delay)
                await crowd.keep_answering(pause, stop_at)

            spread = 0.0 if pause is None else PEAK_RAMP  # arrivals, then steady state
            tasks = [
                asyncio.create_task(citizen(random.uniform(0, spread))) for _ in range(citizens)
            ]
            await asyncio.sleep(warmup)
            window_start = time.monotonic()
            cpu_bot, cpu_self = cpu_seconds(bot.pid), own_cpu_seconds()
            await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
            window = time.monotonic() - window_start
            bot_cpu = (cpu_seconds(bot.pid) - cpu_bot) / window
            harness_cpu = (own_cpu_seconds() - cpu_self) / window
            await asyncio.wait(tasks, timeout=30)  # answers in flight get their replies
            for task in tasks:
                task.cancel()
            in_window = [s for at, s in tally.latencies if window_start <= at <= stop_at]
            if pause is not None:
                arriving = sorted(s for at, s in tally.latencies if at < window_start)
                if arriving:
                    p99 = arriving[min(len(arriving) - 1, int(len(arriving) * 0.99))]
                    print(
                        f"  ({kind} {backend}: arrivals and settling, not counted: "
                        f"{len(arriving)} replies, p99 {p99 * 1000:.0f} ms)",
                        flush=True,
                    )
            result = Result(
                label=f"{kind} {'saturation' if pause is None else 'peak'}".replace("-", " "),
                answers=len(in_window),
                seconds=window,
                latencies=in_window,
                bot_cpu=bot_cpu,
                harness_cpu=harness_cpu,
            )
            await tally_up(result, fake, tally, url)
            await stop_bot(bot)
        return result
    finally:
        if url is not None:
            await drop_database(url)


def table(rows: list[Result]) -> str:
    lines = [
        f"  {'run':<34}{'answers':>8}{'answers/s':>11}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'p99 ms':>8}{'max ms':>8}{'bot CPU':>9}{'harness':>9}  calls/answer (msg + query)"
    ]
    for r in rows:
        lines.append(
            f"  {r.label:<34}{r.answers:>8}{r.rate:>11.1f}{r.percentile(0.5):>8.1f}"
            f"{r.percentile(0.95):>8.1f}{r.percentile(0.99):>8.1f}"
            f"{max(r.latencies, default=0) * 1000:>8.1f}{r.bot_cpu:>8.0%} {r.harness_cpu:>8.0%}"
            f"  {r.calls()}"
        )
    return "\n".join(lines)


async def postgres_reachable() -> bool:
    import asyncpg

    try:
        connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=3)
    except Exception:  # noqa: BLE001
        return False
    await connection.close()
    return True


async def bench(args: argparse.Namespace) -> int:
    import telegram

    print(
        f"Telegram channel benchmark: webhook mode, fake Bot API server on loopback; "
        f"{os.cpu_count()} cores; python-telegram-bot {telegram.__version__}"
    )
    print(
        f"saturation: {args.saturation_citizens} citizens without pause for "
        f"{args.saturation_seconds:g} s (after {SATURATION_WARMUP:g} s warm-up); "
        "flood limits lifted"
    )
    print(
        f"peak: {args.citizens} citizens arrive over {PEAK_RAMP:g} s (+{PEAK_SETTLE:g} s to "
        "settle), then pause 2-8 s before "
        f"each answer; measured for {args.seconds:g} s after the arrivals; "
        f"per chat {PEAK_LIMITS['CHAT_RATE']} msg/s (burst {PEAK_LIMITS['CHAT_BURST']}), "
        f"overall raised to {PEAK_LIMITS['GLOBAL_RATE']}/s"
    )
    failures = 0
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        baselines = [
            await run(kind, None, args.saturation_citizens, args.saturation_seconds, None, workdir)
            for kind in ("baseline-httpx", "baseline-aiohttp", "baseline-aiohttp-edit")
        ]
        for backend in args.databases:
            if backend == "postgresql" and not await postgres_reachable():
                print(f"\n{backend}: not reachable at {POSTGRES_ADMIN_DSN}; skipped")
                continue
            ours = await run(
                "ours", backend, args.saturation_citizens, args.saturation_seconds, None, workdir
            )
            peak = await run("ours", backend, args.citizens, args.seconds, (2.0, 8.0), workdir)
            p99 = peak.percentile(0.99)
            print(f"\n{backend}:")
            print(table([ours, *baselines, peak]))
            ratios = [ours.rate / baseline.rate for baseline in baselines[:2]]
            print(
                f"  saturation ratio ours/baseline: {ratios[0]:.2f} against PTB as it comes "
                f"(target >= 0.6: {'met' if ratios[0] >= 0.6 else 'MISSED'}); "
                f"{ratios[1]:.2f} against PTB on the bot's own aiohttp transport, "
                "i.e. what storing each answer costs (no target)"
            )
            print(
                f"  peak: {peak.rate:.1f} answers/s; p99 {p99:.1f} ms "
                f"(target < 250: {'met' if p99 < 250 else 'MISSED'}); "
                f"lost {peak.lost}, doubled {peak.doubled}, misplaced {peak.wrong}; "
                f"saturation run: lost {ours.lost}, doubled {ours.doubled}, misplaced {ours.wrong}"
            )
            old = baselines[2]  # the design before: the pressed keyboard removed by an edit
            per_token = TELEGRAM_MESSAGES_PER_SECOND / max(peak.message_calls, 0.01)
            old_per_token = TELEGRAM_MESSAGES_PER_SECOND / max(old.message_calls, 0.01)
            print(
                f"  Bot API calls per answer: {peak.message_calls:.2f} message calls "
                f"(target 1: {'met' if peak.message_calls <= 1.0 else 'MISSED'}) "
                f"+ {peak.query_calls:.2f} answerCallbackQuery; the keyboard-removing design "
                f"(baseline aiohttp edit) {old.message_calls:.2f} + {old.query_calls:.2f}: "
                f"ratio {peak.message_calls / max(old.message_calls, 0.01):.2f}; one token's "
                f"~{TELEGRAM_MESSAGES_PER_SECOND} messages/s carry ~{per_token:.0f} answers/s "
                f"(~{old_per_token:.0f} with the edit)"
            )
            failures += (ratios[0] < 0.6) + (p99 >= 250) + (peak.message_calls > 1.0)
            failures += bool(peak.lost or peak.doubled or peak.wrong)
            failures += bool(ours.lost or ours.doubled or ours.wrong)
    return 1 if failures else 0


# -- the baseline: a bare PTB bot --------------------------------------------------------------


async def serve_baseline() -> None:
    """PTB's Application behind an aiohttp webhook, as in PTB's custom-webhook example.

    It answers the callback and sends the next question, like the bot under test
    (the answered keyboard stays; with BASELINE_REMOVES_KEYBOARD it also removes it by
    an edit, as the bot did before one call per answer), but keeps nothing: the step
    comes back in the button's data.
    With BASELINE_TRANSPORT=aiohttp its calls travel as the bot's do (PTB's default is
    httpx), so that the ratio against it shows what storing costs, transport aside.
    """
    from aiohttp import web
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

    builder = (
        Application.builder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_API_BASE_URL"])
        .updater(None)
        .concurrent_updates(True)
    )
    if os.environ.get("BASELINE_TRANSPORT") == "aiohttp":  # the transport the bot uses
        from bot.channels._telegram_api import CONNECTIONS
        from bot.channels._telegram_http import AiohttpRequest

        token = os.environ["TELEGRAM_BOT_TOKEN"]
        builder = builder.request(AiohttpRequest(token, connections=CONNECTIONS))
    application = builder.build()
    texts = [
        TRANSLATOR("vi", "privacy"),
        TRANSLATOR("vi", "survey_intro", service="x", agency="y", total=QUESTIONS),
    ]

    def question(step: int) -> tuple[str, InlineKeyboardMarkup | None]:
        text = f"{prompt(step)}{Q2017.questions[step].text['vi']}"
        if not Q2017.questions[step].options:
            return text, None
        question = Q2017.questions[step]
        values = [option.value for option in question.options] + [0] * question.no_opinion
        buttons = [
            [InlineKeyboardButton(f"{v}. x", callback_data=f"a.bench.{step}.{v}")] for v in values
        ]
        return text, InlineKeyboardMarkup(buttons)

    async def on_text(update: Update, context) -> None:
        chat_id = update.effective_chat.id
        if update.message.text.startswith("/start"):
            for text in texts:
                await context.bot.send_message(chat_id, text)
            text, markup = question(0)
        else:  # the last question's typed answer
            text, markup = THANKS, None
        await context.bot.send_message(chat_id, text, reply_markup=markup)

    async def on_press(update: Update, context) -> None:
        query = update.callback_query
        step = int(query.data.split(".")[2]) + 1
        text, markup = question(step) if step < QUESTIONS else (THANKS, None)
        chores = [query.answer()]
        if os.environ.get("BASELINE_REMOVES_KEYBOARD"):  # the bot's design before one call
            chores.append(query.edit_message_reply_markup(None))
        await asyncio.gather(
            *chores, context.bot.send_message(query.message.chat.id, text, reply_markup=markup)
        )

    application.add_handler(MessageHandler(filters.TEXT, on_text))
    application.add_handler(CallbackQueryHandler(on_press))
    secret = os.environ["TELEGRAM_WEBHOOK_SECRET"].encode()

    async def webhook(request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode()
        if not hmac.compare_digest(given, secret):
            return web.Response(status=403)
        update = Update.de_json(json.loads(await request.read()), application.bot)
        await application.update_queue.put(update)
        return web.Response()

    app = web.Application()
    app.router.add_post("/telegram/webhook", webhook)
    host, port = os.environ["HTTP_LISTEN"].rsplit(":", 1)
    async with application:
        await application.start()
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, int(port)).start()
        await application.bot.set_webhook(
            f"{os.environ['PUBLIC_BASE_URL']}/telegram/webhook",
            secret_token=os.environ["TELEGRAM_WEBHOOK_SECRET"],
        )
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
            await application.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="length of the peak run")
    parser.add_argument("--citizens", type=int, default=500, help="citizens in the peak run")
    parser.add_argument("--saturation-seconds", type=float, default=15)
    parser.add_argument("--saturation-citizens", type=int, default=50)
    parser.add_argument(
        "--databases", default="sqlite,postgresql", type=lambda text: text.split(",")
    )
    parser.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        import signal

        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        asyncio.run(serve_baseline())
        return 0
    return asyncio.run(bench(args))


if __name__ == "__main__":
    sys.exit(main())
