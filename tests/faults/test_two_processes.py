"""Two bot processes behind one webhook: 100 citizens, updates at random to either, a tenth
of them to both at once, every fifth citizen tapping each button twice with the two taps
sent to different processes; they take 1-2.5 s to answer, as people do. Every answer
must count the first time and be stored exactly once, as given. Then ten probes answer
at once a question one process showed, through the other: the answer must count."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from tests.builders import make_code, seed_catalog
from tests.fakes.telegram import FakeTelegram
from tests.faults.conftest import pg_empty
from tests.faults.harness import (
    NOT_SHOWN,
    RETRY,
    Crowd,
    Fleet,
    check_exact,
    environment_fast,
    outcome,
    prompt,
)

CITIZENS = 100
QUESTIONS = 4
PAUSE = (1.0, 2.5)
PROBES = 10
BUDGET = 30.0  # seconds; bounds the suite's time when answers are rejected

pytestmark = [
    pytest.mark.xdist_group("faults"),
    pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning"),
]


@dataclass
class Outcome:
    fake: FakeTelegram
    crowd: Crowd
    finished: AssertionError | None  # every citizen done, every answer counted, exact
    consistent: AssertionError | None  # nothing stored that was not given, nothing twice
    probes_rejected: int
    statuses: set[int]  # the webhooks' answers while both processes ran


@pytest.fixture(scope="module")
async def run(pg_migrated, tmp_path_factory) -> Outcome:
    """One run, read by the tests below."""
    database = await pg_empty(pg_migrated)
    code = await make_code(database, await seed_catalog(database), single_use=False)
    async with FakeTelegram(both_rate=0.1, max_connections=200, webhook_retry_delay=RETRY) as fake:
        workdir = tmp_path_factory.mktemp("two")
        async with Fleet(fake, database, workdir, **environment_fast()):
            crowd = Crowd(fake, [code] * CITIZENS, questions=QUESTIONS)
            finished = await outcome(crowd.run(pause=PAUSE, budget=BUDGET))
            consistent = await outcome(check_exact(database, fake, crowd, finished=False))
            if finished is None:
                finished = await outcome(check_exact(database, fake, crowd))
            if finished is None and crowd.rejected:
                finished = AssertionError(f"answers not counted: {dict(crowd.rejected)}")
            rejected = sum(await asyncio.gather(*(probe(fake, code, i) for i in range(PROBES))))
            await fake.wait_until(lambda: not fake.pending, within=30)
            statuses = set(fake.webhook_statuses)
    print(
        f"\ntwo processes: {len(fake.confirmed)} updates, {len(fake.posted_to_both)} to both "
        f"at once, {crowd.double_taps} double taps; posts per process "
        f"{sorted(fake.posts_by_target.values())}; answers not counted (re-asked): "
        f"{sum(crowd.rejected.values())} in {len(crowd.rejected)} chats; "
        f"probes rejected: {rejected} of {PROBES}"
    )
    return Outcome(fake, crowd, finished, consistent, rejected, statuses)


async def probe(fake: FakeTelegram, code: str, index: int) -> bool:
    """/start through process 0, the answer at once through process 1; True if the
    answer was not counted."""
    user = fake.user(90_000 + index)
    fake.pinned[user.send(f"/start {code}")] = 0
    message = await user.expect(prompt(0), within=30)
    fake.pinned[user.press_value(4, message)] = 1
    seen = await user.expect(
        lambda m: m.text.startswith(prompt(1)) or NOT_SHOWN in m.text, within=30
    )
    return NOT_SHOWN in seen.text


async def test_nothing_is_stored_that_was_not_answered_nor_twice(run: Outcome):
    if run.consistent is not None:
        raise run.consistent
    assert run.statuses <= {0, 200, 503}, run.statuses  # 0: timed out under load, posted again
    assert all(run.fake.posts_by_target[url] > 100 for url in run.fake.targets)  # both worked
    assert len(run.fake.posted_to_both) >= 20 and run.crowd.double_taps >= 40


async def test_every_answer_counts_the_first_time_and_is_stored_exactly(run: Outcome):
    if run.finished is not None:
        raise run.finished


async def test_an_answer_to_a_question_the_other_process_showed_counts(run: Outcome):
    assert run.probes_rejected == 0, f"{run.probes_rejected} of {PROBES} answers rejected"
