"""The officials' web dashboard, its data (issue 14): what the pages show, no web code.

The face `bot.web` uses. Every figure comes from `handlers.reports.build_report` with
the filters `overview_filters` gives, so a page says what `python -m bot report
--format json` says for the same filters. Behind it: `filters` (what a page counts),
`catalogue` (units, levels, successors), `figures` (an index as a page shows it),
`ranking` (blocks, ranks, top and bottom five), `trend`, `overview` and `unit` (the two
pages), `store` (its queries: agencies, suggestions). Charts are drawn by
`bot.rendering.svg` from these values.
"""

from handlers.dashboard.figures import SIPAS, Figure, Headline
from handlers.dashboard.filters import TREND_LENGTH, TRENDS, overview_filters, trend_window
from handlers.dashboard.overview import Overview, overview
from handlers.dashboard.ranking import HIGH, TOP, Block, UnitRow, block_name
from handlers.dashboard.trend import Trend, TrendPoint
from handlers.dashboard.trend import series as trend_series
from handlers.dashboard.unit import (
    SUGGESTIONS,
    WEAKEST,
    ChannelShare,
    CriterionRow,
    Suggestion,
    UnitView,
    unit,
)

__all__ = [
    "HIGH",
    "SIPAS",
    "SUGGESTIONS",
    "TOP",
    "TRENDS",
    "TREND_LENGTH",
    "WEAKEST",
    "Block",
    "ChannelShare",
    "CriterionRow",
    "Figure",
    "Headline",
    "Overview",
    "Suggestion",
    "Trend",
    "TrendPoint",
    "UnitRow",
    "UnitView",
    "block_name",
    "overview",
    "overview_filters",
    "trend_series",
    "trend_window",
    "unit",
]
