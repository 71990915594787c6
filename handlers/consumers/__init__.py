"""Report consumers: the province's operations centre and other readers of /api/v1/reports.

The face the command line and the web API use. Inside: `keys` (create, verify, revoke,
list), `requests` (the query strings as strict models), `answers` (the JSON each route
answers, the command line's own), `store` (every query).
"""

from handlers.consumers.answers import NotFound, dossiers_answer, report_answer
from handlers.consumers.keys import (
    PREFIX,
    Consumer,
    ConsumerError,
    create_consumer,
    listed_consumers,
    revoke_consumer,
    verify_consumer,
)
from handlers.consumers.requests import DossiersQuery, QueryError, ReportQuery, from_query

__all__ = [
    "PREFIX",
    "Consumer",
    "ConsumerError",
    "DossiersQuery",
    "NotFound",
    "QueryError",
    "ReportQuery",
    "create_consumer",
    "dossiers_answer",
    "from_query",
    "listed_consumers",
    "report_answer",
    "revoke_consumer",
    "verify_consumer",
]
