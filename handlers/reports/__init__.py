"""SIPAS reports: filters in, scored groups out, as text, JSON, CSV, or a chart and a
workbook *described* (drawn by `bot.rendering` after the commit).

The face other code uses: the command line, the officials' room and the tests. Behind it,
`build` resolves filters and scores, `store` holds every query, `dropoff` the figures of
surveys left half-way, `periods` the calendar maths, `render` the text forms, `chart`
and `workbook` the descriptions.
"""

from handlers.reports.build import (
    GROUPINGS,
    Report,
    ReportError,
    ReportFilters,
    ReportGroup,
    build_report,
    group_counts,
)
from handlers.reports.chart import chart_of
from handlers.reports.dropoff import Dropoff, DropoffStep, dropoff_of
from handlers.reports.periods import MONTH, QUARTER, YEAR, Period
from handlers.reports.render import (
    criterion_name,
    factor_name,
    render_csv,
    render_json,
    render_table,
    target_text,
    to_json,
)
from handlers.reports.workbook import workbook_of

__all__ = [
    "GROUPINGS",
    "MONTH",
    "QUARTER",
    "YEAR",
    "Period",
    "Report",
    "ReportError",
    "ReportFilters",
    "ReportGroup",
    "Dropoff",
    "DropoffStep",
    "build_report",
    "chart_of",
    "criterion_name",
    "dropoff_of",
    "factor_name",
    "group_counts",
    "render_csv",
    "render_json",
    "render_table",
    "target_text",
    "to_json",
    "workbook_of",
]
