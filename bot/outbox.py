"""The outbox: every proactive message (apology notices, invitations, later digests).

The job that decides to notify inserts a row whose (kind, ref_id) is unique, in
the transaction that made the decision, so a notice is created exactly once. The
sender delivers at least once:

- it claims rows in a short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
  so several senders share the work; SQLite's `BEGIN IMMEDIATE` serialises them)
  and marks them `sending` with a lease; a sender that dies mid-send leaves a lease
  that expires, and the row is sent again;
- it chooses the route when it sends, not when the row was made: the citizen's
  chat if the dossier is linked, that channel runs and the chat neither said /stop nor
  blocked the bot (a 403 marks it unreachable), else ZNS (Zalo template message to the
  phone on file) when configured, else "deliver at the counter" (listed for officials
  with the printable notice); right before the send the channel is asked whether it
  can reach the chat now (`bot.channels.can_reach`: a Zalo OA chat outside its free
  reply window cannot), and if not the message takes that other route at once;
- a renderer may answer `Withheld`: not now (due again later, e.g. a reminder at
  night) or never (cancelled, e.g. the citizen came back), written back in the claim;
- it paces each platform at a share of its rate limit, shared by every process
  (bot.rate_budget), so replies keep the rest; a 429 makes that message wait
  `retry_after` (usually one chat's limit: the others go on), renewing its leases
  (bot.outbox_leases); other failures back off until `max_attempts`, then `failed`;
- it wakes on rows inserted by any process (`bot.database.new_rows`) or falling due.

A duplicate can only follow a send that timed out after the platform accepted it
(or a sender that died between sending and recording): such attempts are counted
in `uncertain` on the row and logged, never hidden.

This module imports no platform code: channels come in through the `Channel`
protocol and ZNS through the small `ZnsGateway` protocol below.

Longer than 450 lines because claiming, routing, sending and recording share one job's
state; what a failure means and the pacing are apart, in bot.sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels import can_reach
from bot.database import insert_if_absent, new_rows
from bot.models import ApologyNotice, Chat, Dossier, OutboxMessage
from bot.outbox_leases import Leases
from bot.rate_budget import Limit, budget_of
from bot.sending import (
    Pacer,
    SendReport,
    describe,
    is_blocked,
    is_permanent,
    is_timeout,
    retry_after_of,
)
from bot.states import OutboxKind, OutboxRoute, OutboxStatus
from handlers.messages import Rendered, Withheld

if TYPE_CHECKING:
    from bot.channels import Channel
    from bot.database import Database
    from bot.settings import OutboxSettings

log = logging.getLogger(__name__)

_MAX_INLINE_429 = 10


async def enqueue(
    session: AsyncSession, kind: str, ref_id: int, *, dossier_id: int | None, now: datetime
) -> bool:
    """Create the message unless it exists; True when this call created it."""
    return await insert_if_absent(
        session, OutboxMessage.__table__, OutboxMessage.new_row(kind, ref_id, dossier_id, now)
    )


class ZnsGateway(Protocol):
    """Sends an approved Zalo template message to a phone number (84…)."""

    async def send_template(self, phone: str, fields: Mapping[str, str], tracking_id: str) -> None:
        """Raise on failure; an exception with `retry_after` means "slow down"."""


# (session, message, dossier or None, language) -> Rendered, or None if moot now
Renderer = Callable[[AsyncSession, OutboxMessage, Dossier | None, str | None], Awaitable[Any]]


@dataclass
class _Job:
    id: int
    route: str
    channel: str | None = None
    chat_key: str | None = None
    phone: str | None = None
    rendered: Rendered | None = None
    reason: str | None = None
    reclaimed: bool = False
    withheld: Withheld | None = None  # not sent now: written back in the claim
    elsewhere: _Job | None = None  # a chat job's route if its channel cannot reach it now


class OutboxSender:
    """Claims due outbox rows and delivers them; `run` loops, `drain` empties what is due."""

    def __init__(
        self,
        database: Database,
        settings: OutboxSettings,
        channels: Mapping[str, Channel],
        renderers: Mapping[str, Renderer],
        *,
        zns: ZnsGateway | None = None,
        clock: Callable[[], datetime],
        default_language: str = "vi",
    ):
        self.database = database
        self.settings = settings
        self.channels = dict(channels)
        self.renderers = dict(renderers)
        self.zns = zns
        self.clock = clock
        self.default_language = default_language
        self._pacers: dict[str, Pacer] = {}
        self._outcomes: list[dict[str, Any]] = []
        self.leases = Leases(database, settings.lease_seconds, clock)
        self.totals = SendReport()

    def pacer(self, lane: str) -> Pacer:
        """The lane's share of its platform, shared by every process on the database."""
        if lane not in self._pacers:
            rate = self.settings.rate(lane)
            limit = Limit(f"outbox:{lane}", rate, max(1.0, rate / 10), name=f"outbox_{lane}")
            self._pacers[lane] = Pacer(budget_of(self.database), limit)
        return self._pacers[lane]

    # -- claiming ----------------------------------------------------------------------

    def _claim_size(self) -> int:
        slowest = min((self.settings.rate(lane) for lane in self._lanes()), default=1.0)
        return max(1, min(self.settings.batch_size, int(slowest * self.settings.lease_seconds / 2)))

    def _lanes(self) -> list[str]:
        return [*self.channels, *(["zns"] if self.zns else [])]

    async def claim(self) -> list[_Job]:
        """Take up to a batch of due rows (and rows whose sender's lease ran out)."""
        now = self.clock()
        lease = self.leases.lease()
        async with self.database.transaction() as session:
            due = or_(
                and_(
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.next_attempt_at <= now,
                ),
                and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.lease_until < now),
            )
            rows = (
                await session.scalars(
                    select(OutboxMessage)
                    .where(due)
                    .order_by(OutboxMessage.id)
                    .limit(self._claim_size())
                    .with_for_update(skip_locked=True)
                )
            ).all()
            loaded = await self._prefetch(session, rows)  # noqa: F841 - kept alive
            jobs = []
            for row in rows:
                reclaimed = row.status == OutboxStatus.SENDING
                if reclaimed:
                    # Its sender died after claiming it: it may have been sent already.
                    row.uncertain += 1
                    log.warning(
                        "outbox %d: lease expired, sending again (possible duplicate)", row.id
                    )
                row.status, row.lease_until = OutboxStatus.SENDING, lease
                row.attempts += 1
                job = await self._resolve(session, row)
                job.reclaimed = reclaimed
                if job.withheld is not None:
                    self._withhold(row, job.withheld)
                jobs.append(job)
        self.leases.hold({job.id: lease for job in jobs if job.withheld is None})
        return jobs

    @staticmethod
    async def _prefetch(session: AsyncSession, rows: Sequence[OutboxMessage]) -> list[Any]:
        """Load the batch's dossiers, chats and notices in three queries, not three per row.

        The caller keeps the returned list alive: the session's identity map holds its
        objects weakly, and `session.get` finds them there without a query.
        """
        loaded: list[Any] = []
        dossier_ids = {row.dossier_id for row in rows if row.dossier_id is not None}
        if dossier_ids:
            query = select(Dossier).where(Dossier.id.in_(dossier_ids))
            loaded += (await session.scalars(query)).all()
            chat_ids = {d.chat_id for d in loaded if isinstance(d, Dossier) and d.chat_id}
            if chat_ids:
                query = select(Chat).where(Chat.id.in_(chat_ids))
                loaded += (await session.scalars(query)).all()
        notice_ids = [row.ref_id for row in rows if row.kind == OutboxKind.APOLOGY]
        if notice_ids:
            query = select(ApologyNotice).where(ApologyNotice.id.in_(notice_ids))
            loaded += (await session.scalars(query)).all()
        return loaded

    @staticmethod
    def _withhold(row: OutboxMessage, withheld: Withheld) -> None:
        """Not now: due again at `until` (the attempt is not counted), or cancelled."""
        row.lease_until = None
        row.last_error = withheld.reason
        if withheld.until is None:
            row.status = OutboxStatus.CANCELLED
        else:
            row.status, row.next_attempt_at = OutboxStatus.PENDING, withheld.until
            row.attempts -= 1

    async def _resolve(self, session: AsyncSession, row: OutboxMessage) -> _Job:
        """Pick the route for one message and render it in the citizen's language.

        A chat that said /stop or blocked the bot gets nothing: a notice that must reach
        the citizen (`counter_fallback`) goes by ZNS or the counter instead, any other
        message to that chat is cancelled. A chat route carries the route to take
        instead (`elsewhere`) if its channel cannot reach the chat when it sends.
        """
        dossier = await session.get(Dossier, row.dossier_id) if row.dossier_id else None
        chat = await session.get(Chat, dossier.chat_id) if dossier and dossier.chat_id else None
        renderer = self.renderers.get(row.kind)
        if renderer is None:
            return _Job(row.id, OutboxRoute.COUNTER, reason=f"no renderer for {row.kind!r}")
        language = chat.language if chat is not None else None
        rendered = await renderer(session, row, dossier, language or self.default_language)
        if rendered is None:
            return _Job(row.id, OutboxRoute.COUNTER, reason="nothing to send any more")
        if isinstance(rendered, Withheld):
            return _Job(row.id, OutboxRoute.COUNTER, withheld=rendered)
        if rendered.chat is not None:
            channel, chat_key = rendered.chat
            if channel not in self.channels:
                return _Job(row.id, OutboxRoute.COUNTER, reason=f"channel {channel} is not running")
            addressee = await session.scalar(
                select(Chat).where(Chat.channel == channel, Chat.chat_key == chat_key)
            )
            if addressee is not None and _closed(addressee):
                return _Job(row.id, OutboxRoute.COUNTER, withheld=Withheld(_closed(addressee)))
            job = _Job(row.id, OutboxRoute.CHAT, channel, chat_key, rendered=rendered)
            job.elsewhere = _Job(row.id, OutboxRoute.CHAT, channel, chat_key, withheld=_AWAY)
            return job
        closed = _closed(chat) if chat is not None else None
        if chat is not None and not closed and chat.channel in self.channels:
            job = _Job(row.id, OutboxRoute.CHAT, chat.channel, chat.chat_key, rendered=rendered)
            job.elsewhere = self._elsewhere(row, dossier, rendered, _AWAY.reason)
            return job
        return self._elsewhere(row, dossier, rendered, closed)

    def _elsewhere(
        self, row: OutboxMessage, dossier: Dossier | None, rendered: Rendered, closed: str | None
    ) -> _Job:
        """The route when the chat is not an option: ZNS, the counter, or not at all."""
        if dossier is not None and dossier.phone and self.zns is not None and rendered.zns_fields:
            return _Job(row.id, OutboxRoute.ZNS, "zns", phone=dossier.phone, rendered=rendered)
        if closed and not rendered.counter_fallback:
            return _Job(row.id, OutboxRoute.COUNTER, withheld=Withheld(closed))
        return _Job(
            row.id,
            OutboxRoute.COUNTER,
            rendered=rendered,
            reason=None if rendered.counter_fallback else "no chat linked",
        )

    # -- sending -----------------------------------------------------------------------

    async def drain(self, *, max_rounds: int | None = None) -> SendReport:
        """Send everything due now (claim after claim) and report what happened.

        The next batch is claimed while the current one is being sent, so the lane
        never idles between batches.
        """
        report = SendReport()
        rounds = 0
        async with self.leases.kept():
            jobs = await self.claim()
            while jobs:
                rounds += 1
                last = max_rounds is not None and rounds >= max_rounds
                following = None if last else asyncio.create_task(self.claim())
                try:
                    await self._send_batch(jobs, report)
                finally:
                    jobs = await following if following is not None else []
        self.totals.add(report)
        return report

    async def _send_batch(self, jobs: list[_Job], report: SendReport) -> None:
        queue: asyncio.Queue[_Job] = asyncio.Queue()
        for job in jobs:
            queue.put_nowait(job)
        workers = min(self.settings.workers, len(jobs))
        done = asyncio.Event()
        flusher = asyncio.create_task(self._flush_every(0.2, done))
        try:
            await asyncio.gather(*(self._worker(queue, report) for _ in range(workers)))
        finally:
            done.set()
            await flusher

    async def run(self, stop: asyncio.Event) -> None:
        """The long-running sender of the bot process: drain, then wait for new rows, the
        next row falling due, or at most `poll_seconds`."""
        async with new_rows(self.database, OutboxMessage.__tablename__) as woken:
            while not stop.is_set():
                woken.clear()
                wait = self.settings.poll_seconds
                try:
                    await self.drain()
                    wait = await self.leases.seconds_to_next(wait)
                except Exception:  # noqa: BLE001 - a failed round must not end the sender
                    log.exception("outbox round failed")
                waits = [asyncio.create_task(stop.wait()), asyncio.create_task(woken.wait())]
                await asyncio.wait(waits, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                for task in waits:
                    task.cancel()

    async def _worker(self, queue: asyncio.Queue[_Job], report: SendReport) -> None:
        while not queue.empty():
            await self._deliver(queue.get_nowait(), report)

    async def _deliver(self, job: _Job, report: SendReport) -> None:
        job = await self._reachable_or_elsewhere(job)
        if job.withheld is not None:  # already written back
            if job.withheld.until is None:
                report.cancelled += 1
            else:
                report.postponed += 1
            return
        if job.route == OutboxRoute.COUNTER:
            status = OutboxStatus.COUNTER if job.reason is None else OutboxStatus.FAILED
            await self._record(job, status=status, reason=job.reason)
            if status == OutboxStatus.COUNTER:
                report.counter += 1
            else:
                report.failed += 1
            return
        pacer = self.pacer(job.channel or job.route)
        for _ in range(_MAX_INLINE_429 + 1):
            await pacer.wait()
            try:
                await self._send(job)
            except Exception as error:  # noqa: BLE001 - every failure is recorded
                wait = retry_after_of(error)
                if wait is not None:
                    # Usually one chat's limit: this message waits, the others go on.
                    report.rate_limited += 1
                    await asyncio.sleep(wait)
                    continue
                await self._failed(job, error, report)
                return
            await self._record(job, status=OutboxStatus.SENT)
            report.sent += 1
            if job.reclaimed:
                report.uncertain += 1
            return
        await self._failed(job, RuntimeError("rate limited too often"), report)

    async def _reachable_or_elsewhere(self, job: _Job) -> _Job:
        """The job, or its other route if its channel cannot reach the chat now (asked
        here, outside the claim's transaction: the channel may read the database)."""
        other = job.elsewhere
        if other is None or job.rendered is None or job.channel is None:
            return job
        if await can_reach(self.channels[job.channel], job.chat_key or "", job.rendered.replies):
            return job
        if other.withheld is not None:
            await self._record(other, status=OutboxStatus.CANCELLED, reason=other.withheld.reason)
        return other

    async def _send(self, job: _Job) -> None:
        assert job.rendered is not None
        if job.route == OutboxRoute.CHAT:
            assert job.channel is not None and job.chat_key is not None
            await self.channels[job.channel].send(job.chat_key, job.rendered.replies)
        else:
            assert self.zns is not None and job.phone is not None
            await self.zns.send_template(job.phone, job.rendered.zns_fields, f"outbox-{job.id}")

    async def _failed(self, job: _Job, error: BaseException, report: SendReport) -> None:
        reason = describe(error)
        uncertain = is_timeout(error)
        if uncertain:
            report.uncertain += 1
            log.warning("outbox %d: send timed out; a retry may duplicate it", job.id)
        permanent = is_permanent(error)
        async with self.database.transaction() as session:
            row = await session.get(OutboxMessage, job.id)
            assert row is not None
            row.route, row.channel, row.last_error = job.route, job.channel, reason
            row.lease_until = None
            row.uncertain += int(uncertain)
            if is_blocked(error) and job.route == OutboxRoute.CHAT:
                # Blocked: this chat's notices go by ZNS or the counter from now on.
                await session.execute(
                    update(Chat)
                    .where(Chat.channel == job.channel, Chat.chat_key == job.chat_key)
                    .values(unreachable_at=self.clock())
                )
            if permanent or row.attempts >= self.settings.max_attempts:
                row.status = OutboxStatus.FAILED
                report.failed += 1
                log.warning("outbox %d: giving up after %d attempts", job.id, row.attempts)
            else:
                delay = min(
                    self.settings.backoff_seconds * 2 ** (row.attempts - 1),
                    self.settings.backoff_max_seconds,
                )
                row.status = OutboxStatus.PENDING
                row.next_attempt_at = self.clock() + timedelta(seconds=delay)
                report.retried += 1
        self.leases.release([job.id])

    async def _record(self, job: _Job, *, status: str, reason: str | None = None) -> None:
        """Queue the outcome; `_flush` writes queued outcomes in one transaction.

        Until it is written the row keeps its lease: a crash in between makes it sent
        again (counted as uncertain), which is the at-least-once promise.
        """
        self._outcomes.append(
            {
                "id": job.id,
                "status": status,
                "route": job.route,
                "channel": job.channel,
                "last_error": reason,
                "lease_until": None,
                "sent_at": self.clock()
                if status in (OutboxStatus.SENT, OutboxStatus.COUNTER)
                else None,
            }
        )
        if len(self._outcomes) >= 50:
            await self._flush()

    async def _flush(self) -> None:
        if not self._outcomes:
            return
        outcomes, self._outcomes = self._outcomes, []
        async with self.database.transaction() as session:
            await session.execute(update(OutboxMessage), outcomes)
        self.leases.release(outcome["id"] for outcome in outcomes)

    async def _flush_every(self, seconds: float, done: asyncio.Event) -> None:
        while not done.is_set() or self._outcomes:  # outcomes queued during a flush too
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=seconds)
            await self._flush()


_AWAY = Withheld("chat out of reach now")  # its channel cannot reach it (Zalo OA window)


def _closed(chat: Chat) -> str | None:
    """Why no proactive message may go to this chat, or None."""
    if chat.stopped_at is not None:
        return "chat stopped"
    if chat.unreachable_at is not None:
        return "chat unreachable"
    return None


async def outbox_counts(session: AsyncSession, kind: str | None = None) -> dict[str, int]:
    """Messages per status (for the command line and the benchmark)."""
    query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    return {status: count for status, count in await session.execute(query)}
