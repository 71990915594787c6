"""The dashboard's query strings, validated by strict models before anything is read.

Every page and export takes the same few parameters: `period` (2025-07, 2025-Q3, 2025)
or `from` and `to` (YYYY-MM-DD), `trend` (month or quarter), `lang` (vi or en), and for
exports `view` (overview, unit or dossiers) and `unit` (an agency code). A parameter we
do not know, one given twice, or a value that does not parse is a 400 page: nothing is
coerced, and nothing of the value is echoed back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from multidict import MultiMapping
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.catalog import CODE_MAX
from handlers.reports import MONTH, QUARTER, YEAR, Period
from handlers.reports.periods import FIRST_YEAR, LAST_YEAR

LANGUAGES = ("vi", "en")
MAX_VALUE = 64
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NAMED = re.compile(r"[0-9]{4}(?:-[0-9]{2}|-[Qq][1-4])?")


class QueryError(ValueError):
    """The query string cannot be used; `lang` is the language to refuse in."""

    def __init__(self, lang: str):
        super().__init__("bad query")
        self.lang = lang


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lang: Literal["vi", "en"] = "vi"
    period: str | None = Field(default=None, max_length=MAX_VALUE)
    date_from: str | None = Field(default=None, alias="from", max_length=MAX_VALUE)
    date_to: str | None = Field(default=None, alias="to", max_length=MAX_VALUE)
    trend: Literal["month", "quarter"] = MONTH
    view: Literal["overview", "unit", "dossiers"] = "overview"
    unit: str | None = Field(default=None, max_length=MAX_VALUE)

    @model_validator(mode="after")
    def _coherent(self) -> _Query:
        ranged = self.date_from is not None or self.date_to is not None
        if ranged and (self.period is not None or None in (self.date_from, self.date_to)):
            raise ValueError("give period, or from and to")
        if self.period is not None and not _NAMED.fullmatch(self.period):
            raise ValueError("period")
        for day in (self.date_from, self.date_to):
            if day is not None and not _DAY.fullmatch(day):
                raise ValueError("date")
        if self.unit is not None and not plausible_code(self.unit):
            raise ValueError("unit")
        if (self.view == "unit") != (self.unit is not None):
            raise ValueError("unit goes with view=unit")
        return self


@dataclass(frozen=True)
class PageQuery:
    """What a page or export shows: the period, the trend's grain, the language, and for
    exports the view and unit."""

    period: Period
    trend: str
    lang: str
    view: str
    unit: str | None
    explicit_period: bool  # False: the default period, not named in the URL

    def params(self, **changes: str | None) -> dict[str, str]:
        """The query string for a link to another page with the same choices."""
        values: dict[str, str | None] = {"lang": self.lang, "trend": self.trend}
        if self.explicit_period:
            values.update(period_params(self.period))
        values.update(changes)
        return {key: value for key, value in values.items() if value is not None}


def period_params(period: Period) -> dict[str, str | None]:
    """A period as the query names it (every key, None where unused, so it replaces)."""
    if period.kind in (MONTH, QUARTER, YEAR):
        return {"period": period.label, "from": None, "to": None}
    return {"period": None, "from": period.start.isoformat(), "to": period.end.isoformat()}


def plausible_code(text: str) -> bool:
    """Whether `text` could be a catalogue code (printable, not blank, not too long)."""
    return 0 < len(text) <= CODE_MAX and text.isprintable() and text.strip() == text


def language_of(query: MultiMapping[str]) -> str:
    """The language to answer in even when the rest of the query is refused."""
    values = query.getall("lang", [])
    return values[0] if len(values) == 1 and values[0] in LANGUAGES else "vi"


def parse_query(query: MultiMapping[str], today: date, *, page: bool = False) -> PageQuery:
    """The validated query; QueryError for anything that cannot be used as it is.

    An empty value counts as not given (a form's blank field); a page (`page`) takes no
    `view` or `unit`, which only exports name."""
    lang = language_of(query)
    if len(query) != len(set(query.keys())) or (page and {"view", "unit"} & set(query)):
        raise QueryError(lang)
    try:
        given = {key: value for key, value in query.items() if value != ""}
        model = _Query.model_validate(given)
        period = _period(model, today)
    except (ValidationError, ValueError):
        raise QueryError(lang) from None
    return PageQuery(
        period=period,
        trend=model.trend,
        lang=model.lang,
        view=model.view,
        unit=model.unit,
        explicit_period=model.period is not None or model.date_from is not None,
    )


def _period(model: _Query, today: date) -> Period:
    """The period asked for (the current quarter by default, as `bot report`)."""
    if model.date_from is not None and model.date_to is not None:
        period = Period.parse(f"{model.date_from}..{model.date_to}")
    elif model.period is not None:
        period = Period.parse(model.period.upper())
    else:
        return Period.containing(today, QUARTER)
    if not (period.start.year >= FIRST_YEAR and period.end.year <= LAST_YEAR):
        raise ValueError("period out of range")
    return period
