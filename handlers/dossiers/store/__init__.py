"""Every query of the dossiers room: the handlers build none (issue 12), they call these.

- `_upsert`, `_batch`: writing dossiers from any source, one set of rules;
- `_apologies`: the scan's set-based statements, notices and who signs them;
- `_citizens`: what `/hoso` reads and writes;
- `_calendar`: local days off and the date changes they cause;
- `_listing`: what `dossiers list` and `show` read;
- `_keys`: API keys and agencies by code;
- `_outbox`: the room's rows in the outbox (the sender is machinery);
- `_purge`: the retention purge;
- `_timeliness`: the QĐ 766 on-time figures, one grouped query each.
"""

from handlers.dossiers.store._apologies import (
    agencies_without_signer,
    agency_by_id,
    escalate,
    issue_notices,
    lock_scan,
    notice_by_id,
    notice_settings,
    notices_with_delivery,
    unused_start_code,
)
from handlers.dossiers.store._batch import RECEIPT_CLOCK_SKEW, Outcome
from handlers.dossiers.store._calendar import (
    add_event,
    dossier_history,
    load_calendar,
    local_days,
    open_dossiers_around,
    remove_local_day,
    set_local_day,
)
from handlers.dossiers.store._citizens import (
    add_link_failure,
    dossier_by_code,
    dossier_by_id,
    link_failures,
    linked_dossiers,
)
from handlers.dossiers.store._keys import add_key, agency_id_by_code, key_by_id, keys_with_agency
from handlers.dossiers.store._listing import (
    dossier_pages,
    dossier_with_agency,
    escalations_of,
    notices_of,
    start_code_of,
)
from handlers.dossiers.store._outbox import queue_message
from handlers.dossiers.store._purge import delete_link_failures_before, erase_closed_before
from handlers.dossiers.store._timeliness import (
    agencies_named,
    agency_ids_by_code,
    delivery_counts,
    escalation_counts,
    finished_counts,
    overdue_counts,
    owed_counts,
)
from handlers.dossiers.store._upsert import lock_writes, stored_dates, upsert_dossiers

__all__ = [
    "RECEIPT_CLOCK_SKEW",
    "Outcome",
    "add_event",
    "add_key",
    "add_link_failure",
    "agencies_named",
    "agencies_without_signer",
    "agency_by_id",
    "agency_id_by_code",
    "agency_ids_by_code",
    "delete_link_failures_before",
    "delivery_counts",
    "dossier_by_code",
    "dossier_by_id",
    "dossier_history",
    "dossier_pages",
    "dossier_with_agency",
    "erase_closed_before",
    "escalate",
    "escalation_counts",
    "escalations_of",
    "finished_counts",
    "issue_notices",
    "key_by_id",
    "keys_with_agency",
    "link_failures",
    "linked_dossiers",
    "load_calendar",
    "local_days",
    "lock_scan",
    "lock_writes",
    "notice_by_id",
    "notice_settings",
    "notices_of",
    "notices_with_delivery",
    "open_dossiers_around",
    "overdue_counts",
    "owed_counts",
    "queue_message",
    "remove_local_day",
    "set_local_day",
    "start_code_of",
    "stored_dates",
    "unused_start_code",
    "upsert_dossiers",
]
