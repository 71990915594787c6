"""The reports API's query strings as strict models: what a consumer may ask, checked.

A query string arrives as names with one or more text values. `from_query` refuses an
unknown name, a repeated one that takes a single value, and then the model refuses any
value it would have to guess at. Reasons name the parameter and never repeat the value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from bot.boundary import SafeText
from handlers.reports import GROUPINGS, Period

Code = Annotated[SafeText(32, 1), StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")]
Day = Annotated[SafeText(10, 10), StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
MAX_CODES = 50
LISTS = ("agency", "service")


class QueryError(ValueError):
    """A query refused before the model saw it (unknown or repeated parameter)."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def from_query(
    items: Iterable[tuple[str, str]], model: type[BaseModel], lists: tuple[str, ...] = LISTS
) -> BaseModel:
    """The model of a query's (name, value) pairs; list parameters may repeat or use commas."""
    values: dict[str, object] = {}
    reasons = []
    allowed = {field.alias or name for name, field in model.model_fields.items()}
    for name, value in items:
        if name not in allowed:
            reasons.append(f"{name[:40]}: unknown parameter")
        elif name in lists:
            codes = values.setdefault(name, [])
            codes.extend(part.strip() for part in value.split(",") if part.strip())
        elif name in values:
            reasons.append(f"{name}: given more than once")
        else:
            values[name] = value
    if reasons:
        raise QueryError(sorted(set(reasons)))
    return model.model_validate(values)


def _parsed(text: str) -> Period:
    """The period, or its parser's reason without the text itself."""
    try:
        return Period.parse(text)
    except ValueError as error:
        reason = str(error).replace(repr(text), "").replace(text, "").strip(" :")
        raise ValueError(reason or "not a period") from None


class _PeriodQuery(BaseModel):
    """`period` (2025-07, 2025-Q3, 2025, a..b) or `from` and `to`; neither: the default."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)

    period_text: SafeText(40, 1) | None = Field(default=None, alias="period")
    date_from: Day | None = Field(default=None, alias="from")
    date_to: Day | None = Field(default=None, alias="to")
    agency: list[Code] = Field(default_factory=list, max_length=MAX_CODES)

    @field_validator("period_text")
    @classmethod
    def _a_period(cls, text: str | None) -> str | None:
        if text is not None:
            _parsed(text)
        return text

    @model_validator(mode="after")
    def _one_period(self):
        if self.period_text and (self.date_from or self.date_to):
            raise ValueError("give period, or from and to, not both")
        if bool(self.date_from) != bool(self.date_to):
            raise ValueError("from and to go together")
        if self.date_from:
            _parsed(f"{self.date_from}..{self.date_to}")
        return self

    @property
    def period(self) -> Period | None:
        if self.date_from:
            return _parsed(f"{self.date_from}..{self.date_to}")
        return _parsed(self.period_text) if self.period_text else None


class ReportQuery(_PeriodQuery):
    """GET /api/v1/reports: the filters of `bot report` that a consumer may use."""

    group_by: SafeText(80) = "agency"
    service: list[Code] = Field(default_factory=list, max_length=MAX_CODES)
    channel: Annotated[SafeText(16, 1), StringConstraints(pattern=r"^[a-z_]+$")] | None = None
    lang: Literal["vi", "en"] = "vi"

    @field_validator("group_by")
    @classmethod
    def _known_grouping(cls, text: str) -> str:
        if any(name not in GROUPINGS for name in _grouping(text)):
            raise ValueError(f"choose from {', '.join(GROUPINGS)}, or none")
        return text

    @property
    def grouping(self) -> tuple[str, ...]:
        return _grouping(self.group_by)


def _grouping(text: str) -> tuple[str, ...]:
    """As `bot report --group-by` reads it: comma-separated; none, - or empty: no groups."""
    if text.strip().lower() in ("", "none", "-"):
        return ()
    return tuple(name.strip().lower() for name in text.split(",") if name.strip())


class DossiersQuery(_PeriodQuery):
    """GET /api/v1/reports/dossiers: the period and agencies of `bot dossiers timeliness`."""
