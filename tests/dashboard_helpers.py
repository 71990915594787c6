"""A hand-built province for the dashboard tests: units in four blocks, a merged one.

Every form answers all F1-F4 criteria alike and "no" to the feedback gate (F5 missing),
so a unit's SIPAS is simply the share of its forms answered at 5 (the others at 1).
With SCORING_MIN_SAMPLE 3 (`SETTINGS`), July 2025:

    block     unit  forms  SIPAS    note
    province  S1     3     100
    province  S2    10      90      9 at 5, 1 at 1: exactly 90
    province  S3     4      75
    province  S4     3      33.33   ties with S6
    province  S5     3      66.67
    province  S6     3      33.33
    province  S7     2     100      small sample: not ranked
    province  S8     0       —      no form
    commune   X1     2+1    66.67   D1 (district) merged into X1: 1 form at 1
    commune   X2     4     100
    ministry  M1     3     100
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import insert, select

from bot.database import Database
from bot.models import Agency
from bot.questionnaire import load_questionnaires
from bot.settings import ScoringSettings
from handlers.survey.store.responses import NewResponse, store_response, store_responses

QUESTIONNAIRES = load_questionnaires()
Q = "sipas-2017"
SETTINGS = ScoringSettings(target=80, min_sample=3)
JULY = date(2025, 7, 10)
F1_TO_F4 = [
    *(f"F1.{i}" for i in range(1, 5)),
    *(f"F2.{i}" for i in range(1, 6)),
    *(f"F3.{i}" for i in range(1, 7)),
    *(f"F4.{i}" for i in range(1, 4)),
]
# code: (level, parent, successor)
AGENCIES = {
    **{f"S{i}": ("province", None, None) for i in range(1, 9)},
    "X1": ("commune", None, None),
    "X2": ("commune", None, None),
    "D1": ("district", None, "X1"),
    "M1": ("ministry", None, None),
}
# code: (forms at 5, forms at 1)
FORMS = {
    "S1": (3, 0),
    "S2": (9, 1),
    "S3": (3, 1),
    "S4": (1, 2),
    "S5": (2, 1),
    "S6": (1, 2),
    "S7": (2, 0),
    "X1": (2, 0),
    "D1": (0, 1),
    "X2": (4, 0),
    "M1": (3, 0),
}


def all_at(value: int, **extra: int | str) -> dict[str, int | str]:
    return {**dict.fromkeys(F1_TO_F4, value), "feedback_given": 2, **extra}


async def province(database: Database, agencies=AGENCIES) -> dict[str, int]:
    """The catalogue; agency code -> id."""
    async with database.transaction() as session:
        for code, (level, parent, successor) in agencies.items():
            await session.execute(
                insert(Agency).values(
                    code=code,
                    name=f"Đơn vị {code}",
                    name_folded=code.lower(),
                    level=level,
                    parent_code=parent,
                    successor_code=successor,
                )
            )
        return dict((await session.execute(select(Agency.code, Agency.id))).all())


async def answer(
    database: Database,
    ids: dict[str, int],
    code: str,
    day: date,
    answers: dict[str, int | str],
    channel: str = "paper",
) -> None:
    async with database.transaction() as session:
        await store_response(
            session,
            QUESTIONNAIRES,
            questionnaire=Q,
            agency_id=ids[code],
            service_id=None,
            level=AGENCIES.get(code, ("province",))[0],
            day=day,
            channel_kind=channel,
            answers=answers,
        )


async def seeded(database: Database, day: date = JULY) -> dict[str, int]:
    """The province with the forms of the table above, all on `day`."""
    ids = await province(database)
    forms = [
        NewResponse(Q, ids[code], None, AGENCIES[code][0], day, "paper", all_at(value), None)
        for code, (high, low) in FORMS.items()
        for value in [5] * high + [1] * low
    ]
    async with database.transaction() as session:
        await store_responses(session, forms, QUESTIONNAIRES)
    return ids
