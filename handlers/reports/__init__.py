"""SIPAS reports: filters in, scored groups out, rendered as table, JSON, CSV, XLSX or PNG."""

from handlers.reports.build import (
    GROUPINGS,
    Report,
    ReportError,
    ReportFilters,
    ReportGroup,
    build_report,
    group_counts,
)
from handlers.reports.periods import Period

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
