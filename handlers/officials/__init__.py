"""Officials: heads of agencies and the provincial reform office (issue 7).

The face the rest of the bot uses (the router, `bot.web`, `bot.jobs`, `bot.cli`). Behind it:
- `access`: invitations, binding a chat, roles, and the agencies in scope: the one place
  a scope is narrowed (`official_scope`), for the commands and the download links alike;
- `commands`: the chat commands (`COMMANDS`, which the router dispatches to);
- `schedule`: when digests fall due and which days they cover (pure clock maths);
- `content`: what digests and /scores say, in the official's words, and their chart and
  workbook as descriptions (drawn after the commit by `bot.rendering`);
- `late`: late dossiers, escalations and undelivered apology notices in a scope;
- `links`, `downloads`: signed, expiring links for channels that cannot carry files, and
  the file a link serves;
- `store`: every query of the room.
"""

from handlers.officials import links
from handlers.officials.access import (
    PROVINCE,
    ROLES,
    InvitationError,
    OutOfScope,
    Scope,
    create_invitation,
    display_code,
    official_scope,
    parse_scope,
    revoke,
    scope_of,
    state_of,
)
from handlers.officials.commands import COMMANDS
from handlers.officials.content import Digest, Words, compose, digest_title, file_name, link_lines
from handlers.officials.downloads import linked_file
from handlers.officials.schedule import OFF, Due, due_digest
from handlers.officials.store import roster

__all__ = [
    "COMMANDS",
    "OFF",
    "PROVINCE",
    "ROLES",
    "Digest",
    "Due",
    "InvitationError",
    "OutOfScope",
    "Scope",
    "Words",
    "compose",
    "create_invitation",
    "digest_title",
    "display_code",
    "due_digest",
    "file_name",
    "link_lines",
    "linked_file",
    "links",
    "official_scope",
    "parse_scope",
    "revoke",
    "roster",
    "scope_of",
    "state_of",
]
