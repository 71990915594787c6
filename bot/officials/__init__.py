"""Officials: heads of agencies and the provincial reform office (issue 7).

- `access`: one-time invitations, binding a chat, roles and the agencies in scope;
- `digest`: the digest's content (the report's numbers, late dossiers), its schedule,
  `run_due(now)` that queues due digests in the outbox, and the outbox renderer;
- `links`: signed, expiring download links for channels that cannot carry files;
- `web`, `cli`: the download route on the project's server and `python -m bot officials`.

The chat commands themselves live in `handlers/officials.py`.
"""
