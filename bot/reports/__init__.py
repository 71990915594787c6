"""SIPAS reports: filters in, scored groups out, rendered as table, JSON, CSV, XLSX or PNG."""

from bot.reports.build import (
    GROUPINGS,
    Report,
    ReportError,
    ReportFilters,
    ReportGroup,
    build_report,
    group_counts,
)
from bot.reports.periods import Period

__all__ = [
    "GROUPINGS",
    "Period",
    "Report",
    "ReportError",
    "ReportFilters",
    "ReportGroup",
    "build_report",
    "group_counts",
]
