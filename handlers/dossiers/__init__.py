"""Dossiers from the one-stop systems: import and API, deadlines, apology notices.

- `records`: checking one record (shared by the spreadsheet import and the API);
- `store`: upserting records, deriving the due date and what the scan watches;
- `apologies`: the scan that issues apology notices and escalations, and their text;
- `api`, `importer`, `pdf`, `purge`, `jobs`, `cli`: the ways in and out.
"""
