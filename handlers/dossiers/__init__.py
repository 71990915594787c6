"""Dossiers from the one-stop systems: linking, deadlines, apologies, purge, their store.

This face is what the rest of the project uses (the command line, the web API, the
jobs, the officials' digests); room modules import each other by module, never through
it. Inside:

- `records`: checking one record (shared by the spreadsheet import and the API);
- `deadlines`: the due date and watch date of a dossier (pure rules);
- `store`: every query of the room (`upsert_dossiers` for every write);
- `apologies`: the scan that issues apology notices and escalations, and their renderers;
- `notice`: the notice's templates and text;
- `linking`: `/hoso`, a chat linked to its dossier;
- `timeliness`: QĐ 766's on-time figures per unit;
- `importer`, `keys`, `listing`, `reschedule`, `purge`, `workdays`: the other use cases.
"""

from handlers.dossiers.apologies import ScanReport, code_list, renderers, scan
from handlers.dossiers.importer import ImportResult, default_progress, import_dossiers
from handlers.dossiers.keys import ApiKeyError, create_key, revoke_key, verify_key
from handlers.dossiers.listing import FORMATS as LIST_FORMATS
from handlers.dossiers.listing import ListFilters, listed, show_text, write_list
from handlers.dossiers.notice import (
    NoticeTemplate,
    load_template,
    notice_template_for,
    notice_values,
    shipped_templates,
)
from handlers.dossiers.purge import PurgeReport, purge
from handlers.dossiers.records import ALIASES, COLUMNS, STATES
from handlers.dossiers.reschedule import Rescheduled, reschedule_for_day
from handlers.dossiers.store import (
    Outcome,
    agencies_without_signer,
    dossier_history,
    load_calendar,
    lock_writes,
    stored_dates,
    upsert_dossiers,
)
from handlers.dossiers.timeliness import Timeliness, UnitTimeliness, timeliness_report
from handlers.dossiers.workdays import WorkCalendar

__all__ = [
    "ALIASES",
    "COLUMNS",
    "LIST_FORMATS",
    "STATES",
    "ApiKeyError",
    "ImportResult",
    "ListFilters",
    "NoticeTemplate",
    "Outcome",
    "PurgeReport",
    "Rescheduled",
    "ScanReport",
    "Timeliness",
    "UnitTimeliness",
    "WorkCalendar",
    "agencies_without_signer",
    "code_list",
    "create_key",
    "default_progress",
    "dossier_history",
    "import_dossiers",
    "listed",
    "load_calendar",
    "load_template",
    "lock_writes",
    "notice_template_for",
    "notice_values",
    "purge",
    "renderers",
    "reschedule_for_day",
    "revoke_key",
    "scan",
    "shipped_templates",
    "show_text",
    "stored_dates",
    "timeliness_report",
    "upsert_dossiers",
    "verify_key",
    "write_list",
]
