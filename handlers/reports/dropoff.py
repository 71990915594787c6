"""Drop-off: how many chat surveys were started, completed or left, and at which question.

Counted from `survey_funnel` (one count per day, cell, phase, step and outcome; nothing
that links to a chat). What is counted, and why:

- *started* = the chat sessions that **ended** in the period, however they ended; the
  funnel's day is the session's last activity (for an expired one: its last answer,
  not the day it expired). A session still under way is not counted until it ends
  (completed, cancelled, or expired after `SURVEY_IDLE_DAYS`), so a period's figures
  settle that long after it. Open sessions are not shown as "in progress": they would
  be counted again when they end, and the funnel is the only record that has no chat.
- *completed* / started is the completion rate, with a Wilson interval; like every
  index it is given only from `min_sample` sessions up (below that: counts only).
- *left at a question*: sessions that ended there without completing (expired,
  cancelled, or replaced by a new survey). A refusal (the code or the day's ballot was
  taken meanwhile) comes after the last answer, so it is an outcome but not a drop-off.
  *reached* counts the sessions that got at least that far (completed ones reached
  every question), so left / reached is that question's drop-off rate.
- Sessions that ended while choosing the agency or service have no question: they are
  counted apart, and only where no agency (service) is filtered on.

Paper and web forms have no session, so none of this covers them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bot.questionnaire import Questionnaire
from bot.states import SessionOutcome, SessionPhase
from scoring import wilson_interval

LEGACY_PARTIAL = "partial"
"""Sessions closed before the funnel existed (migration 0009): they had expired."""

OUTCOMES = (
    SessionOutcome.COMPLETED.value,
    SessionOutcome.EXPIRED.value,
    SessionOutcome.CANCELLED.value,
    SessionOutcome.RESTARTED.value,
    SessionOutcome.REFUSED.value,
    "other",
)
"""The outcome counts a drop-off section shows, in this order."""

LEFT = (SessionOutcome.EXPIRED.value, SessionOutcome.CANCELLED.value, "other")
"""How a step's leavers are split: restarted (and anything unknown) count as other."""

BEFORE_QUESTIONS = (SessionPhase.AGENCY.value, SessionPhase.SERVICE.value, "unknown")
"""Where a session that left before any question stood; unknown = a step the
questionnaire no longer has."""


def _outcome(stored: str) -> str:
    if stored == LEGACY_PARTIAL:
        return SessionOutcome.EXPIRED.value
    return stored if stored in OUTCOMES else "other"


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole


@dataclass(frozen=True)
class DropoffStep:
    """One question of the curve: `number` is its position in the questionnaire (1-based)."""

    step: int
    number: int
    question_id: str
    reached: int
    left: Mapping[str, int]
    rate: float | None  # left / reached in percent; None below the minimum sample

    @property
    def left_total(self) -> int:
        return sum(self.left.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "number": self.number,
            "question_id": self.question_id,
            "reached": self.reached,
            "left": self.left_total,
            **{f"left_{name}": self.left[name] for name in LEFT},
            "rate": None if self.rate is None else round(self.rate, 2),
        }


@dataclass(frozen=True)
class Dropoff:
    """The drop-off section of a report (the total of its filters; not per group)."""

    started: int
    outcomes: Mapping[str, int]
    min_sample: int
    completion_rate: float | None
    ci_low: float | None
    ci_high: float | None
    before_questions: Mapping[str, int]
    steps: tuple[DropoffStep, ...] = field(default=())

    @property
    def completed(self) -> int:
        return self.outcomes[SessionOutcome.COMPLETED]

    @property
    def reliable(self) -> bool:
        return self.started >= self.min_sample

    @property
    def worst(self) -> DropoffStep | None:
        """The question most sessions left at (the earliest of a tie); None if none left."""
        most = max((step.left_total for step in self.steps), default=0)
        return (
            next((step for step in self.steps if step.left_total == most), None) if most else None
        )

    def to_dict(self) -> dict[str, Any]:
        worst = self.worst
        return {
            "started": self.started,
            "outcomes": dict(self.outcomes),
            "min_sample": self.min_sample,
            "reliable": self.reliable,
            "completion_rate": _rounded(self.completion_rate),
            "ci_low": _rounded(self.ci_low),
            "ci_high": _rounded(self.ci_high),
            "before_questions": dict(self.before_questions),
            "most_left_at": None if worst is None else worst.question_id,
            "steps": [step.to_dict() for step in self.steps],
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def dropoff_of(
    rows: Iterable[tuple[str, int, str, int]], questionnaire: Questionnaire, min_sample: int
) -> Dropoff:
    """The figures from funnel counts (phase, step, outcome, sessions), in asking order."""
    size = len(questionnaire.questions)
    outcomes = dict.fromkeys(OUTCOMES, 0)
    before = dict.fromkeys(BEFORE_QUESTIONS, 0)
    left = [dict.fromkeys(LEFT, 0) for _ in range(size)]
    deepest = [0] * size  # sessions whose furthest question was this one (completed: the last)
    for phase, step, stored, sessions in rows:
        outcome = _outcome(stored)
        outcomes[outcome] += sessions
        if outcome == SessionOutcome.COMPLETED:
            if size:
                deepest[size - 1] += sessions
            continue
        at_question = phase == SessionPhase.QUESTIONS and 0 <= step < size
        if not at_question:
            if outcome != SessionOutcome.REFUSED:
                where = phase if phase in before and phase != "unknown" else "unknown"
                before[where] += sessions
            continue
        deepest[step] += sessions
        if outcome != SessionOutcome.REFUSED:
            left[step][outcome if outcome in LEFT else "other"] += sessions
    started = sum(outcomes.values())
    steps, reached = [], sum(deepest)
    for index, question in enumerate(questionnaire.questions):
        leavers = sum(left[index].values())
        rate = _percent(leavers, reached) if reached and reached >= min_sample else None
        steps.append(
            DropoffStep(index, index + 1, question.id, reached, MappingProxyType(left[index]), rate)
        )
        reached -= deepest[index]
    rate = low = high = None
    if started and started >= min_sample:
        rate = _percent(outcomes[SessionOutcome.COMPLETED], started)
        interval = wilson_interval(rate / 100.0, started)
        assert interval is not None  # started > 0
        low, high = 100.0 * interval[0], 100.0 * interval[1]
    return Dropoff(
        started,
        MappingProxyType(outcomes),
        min_sample,
        rate,
        low,
        high,
        MappingProxyType(before),
        tuple(steps),
    )
