"""The report filters behind every figure of the dashboard, and the trend's window.

One function decides what a page counts, so the page, its exports and
`python -m bot report --format json` with the same filters agree:

- the province (scope without agency list): no agency filter for the overview, the one
  agency for a unit page; merged agencies counted under their successor
  (`merge_successors`), as the province's reform office reads them;
- an agency's scope: its codes exactly, *without* merging. Merging follows successor
  links wherever they lead, so a unit of the scope merged into an agency outside it
  would pull that agency's responses in; unmerged, each code of the scope is its own
  unit and nothing outside the scope is ever counted.

The trend covers the 12 months (or 8 quarters) that end with the month (quarter) holding
the period's last day, up to that day: one `build_report` grouped by month.
"""

from __future__ import annotations

from datetime import date

from bot.settings import SurveySettings
from handlers.officials.access import OutOfScope, Scope
from handlers.reports import ReportFilters
from handlers.reports.periods import MONTH, QUARTER, Period

TRENDS = (MONTH, QUARTER)
TREND_LENGTH = {MONTH: 12, QUARTER: 8}
DEFAULT_QUESTIONNAIRE: str = SurveySettings.model_fields["questionnaire"].default


def is_province(scope: Scope) -> bool:
    return scope.agency_ids is None


def overview_filters(
    scope: Scope,
    period: Period,
    agency_code: str | None = None,
    *,
    questionnaire_id: str = DEFAULT_QUESTIONNAIRE,
) -> ReportFilters:
    """The filters of the overview (no `agency_code`) or of one unit's page.

    OutOfScope(agency_code) when an agency's scope does not hold that code (so filters
    for an export can never reach outside the scope; a code unknown to the catalogue is
    refused by `build_report` in the province's view, by `dashboard.unit` alike in every
    view); OutOfScope(None) for an agency scope that holds no agency (its root left the
    catalogue): an empty agency list would mean the whole province.
    """
    province = is_province(scope)
    if not province and not scope.codes:
        raise OutOfScope(None)
    if agency_code is not None:
        if not isinstance(agency_code, str) or (
            not province and agency_code.strip() not in scope.codes
        ):
            raise OutOfScope(agency_code)
        agencies: tuple[str, ...] = (agency_code.strip(),)
    else:
        agencies = () if province else tuple(scope.codes)
    return ReportFilters(
        questionnaire=questionnaire_id,
        period=period,
        agencies=agencies,
        merge_successors=province,
    )


def _month_start(day: date, back: int) -> date:
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def trend_window(period: Period, trend: str) -> Period:
    """The days the trend covers: whole months (quarters) back from the period's end."""
    if trend not in TRENDS:
        raise ValueError(f"trend is by {' or '.join(TRENDS)}, not {trend!r}")
    last = Period.containing(period.end, trend)
    months = 3 if trend == QUARTER else 1
    start = _month_start(last.start, months * (TREND_LENGTH[trend] - 1))
    return Period(start, period.end)


def trend_slots(window: Period, trend: str) -> list[Period]:
    """The months (quarters) of the window in order; the last one ends with the window."""
    slots = []
    current = Period.containing(window.start, trend)
    while current.start <= window.end:
        slots.append(current if current.end <= window.end else Period(current.start, window.end))
        current = Period.containing(_month_start(current.end, -1), trend)
    return slots
