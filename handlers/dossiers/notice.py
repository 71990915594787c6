"""The apology notice's text: its templates, its fields as words, its dates.

The text comes from editable YAML templates (`templates/*.yaml`, or a copy in
DOSSIER_TEMPLATE_DIR); the notice stores the name of the form it was issued on, and
the chat message, the printed PDF (drawn after the commit) and ZNS fields are all filled
from the same `notice_values`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Any

import yaml

from bot.models import ApologyNotice

TEMPLATE_DIR = Path(__file__).parent / "templates"
ENGLISH_TEMPLATE = "en"
_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class NoticeTemplate:
    name: str
    language: str
    data: dict[str, Any]

    @property
    def reason_fallback(self) -> str:
        """The sentence printed when the agency gave no reason: a field of the template
        (`reason_fallback`), neutral and honest, which the agency must review; older
        copies may still hold it as `defaults.reason`."""
        defaults = self.data.get("defaults", {}) or {}
        return str(self.data.get("reason_fallback") or defaults.get("reason", "")).strip()

    @property
    def reason_fallback_reviewed(self) -> bool:
        return self.data.get("reason_fallback_reviewed") is True

    def text(self, key: str, values: dict[str, str]) -> str:
        return self.substitute(self.data.get(key, ""), values)

    @staticmethod
    def substitute(raw: object, values: dict[str, str]) -> str:
        return Template(str(raw or "")).safe_substitute(values).strip()


@lru_cache(maxsize=32)
def _load(path: Path, mtime: float) -> dict[str, Any]:
    with open(path, encoding="utf-8") as file:
        data = yaml.safe_load(file)
    if not isinstance(data, dict) or "body" not in data or "chat" not in data:
        raise ValueError(f"{path.name}: an apology template needs at least body and chat")
    return data


def load_template(name: str, directory: str | Path | None = None) -> NoticeTemplate:
    """A template by name, from the editable directory first, else the shipped one."""
    for folder in (Path(directory) if directory else None, TEMPLATE_DIR):
        if folder is None:
            continue
        path = folder / f"{name}.yaml"
        if path.is_file():
            data = _load(path, path.stat().st_mtime)
            return NoticeTemplate(name, str(data.get("language", "vi")), data)
    raise FileNotFoundError(f"no apology template named {name!r}")


def shipped_templates() -> list[str]:
    return sorted(path.stem for path in TEMPLATE_DIR.glob("*.yaml"))


def _vi_day(day: date) -> tuple[str, str, str]:
    """Day and month as administrative documents write them: 05, 02 (01-09, 01-02 padded)."""
    month = f"{day.month:02d}" if day.month <= 2 else str(day.month)
    return f"{day.day:02d}", month, str(day.year)


def format_date(day: date, language: str) -> str:
    if language == "en":
        return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
    return day.strftime("%d/%m/%Y")


def notice_values(notice: ApologyNotice, template: NoticeTemplate) -> dict[str, str]:
    """Every field of the form as text, with the template's words where data is missing."""
    language = template.language
    defaults = template.data.get("defaults", {}) or {}
    issued = notice.issued_on
    if language == "en":
        issued_parts = (str(issued.day), _MONTHS_EN[issued.month - 1], str(issued.year))
    else:
        issued_parts = _vi_day(issued)
    values = {
        "agency_name": notice.agency_name,
        "AGENCY_NAME": notice.agency_name.upper(),
        "parent_agency_name": notice.parent_agency_name or "",
        "PARENT_AGENCY_NAME": (notice.parent_agency_name or "").upper(),
        "notice_number": f"{notice.number_seq}/PXL",
        "place": notice.place or defaults.get("place", "……"),
        "issued_day": issued_parts[0],
        "issued_month": issued_parts[1],
        "issued_year": issued_parts[2],
        "issued_date": format_date(issued, language),
        "citizen_name": notice.citizen_name or defaults.get("citizen_name", "……"),
        "dossier_code": notice.dossier_code,
        "procedure_name": notice.procedure_name,
        "field": notice.field or defaults.get("field", "—"),
        "received_date": format_date(notice.received_on, language),
        "original_date": format_date(notice.original_date, language),
        "reason": notice.reason or template.reason_fallback,
        "new_date": format_date(notice.new_date, language),
        "signer_title": notice.signer_title or defaults.get("signer_title", ""),
        "SIGNER_TITLE": (notice.signer_title or defaults.get("signer_title", "")).upper(),
        "signer_name": notice.signer_name or defaults.get("signer_name", ""),
    }
    return values


def notice_template_for(notice: ApologyNotice, language: str | None, directory) -> NoticeTemplate:
    name = ENGLISH_TEMPLATE if language == "en" else notice.template
    return load_template(name, directory)


def chat_text(notice: ApologyNotice, template: NoticeTemplate) -> str:
    return template.text("chat", notice_values(notice, template))


def zns_fields(notice: ApologyNotice) -> dict[str, str]:
    """Fields a ZNS template may use (ZALO_OA_ZNS_PARAMS maps its parameters to these)."""
    return {
        "dossier_code": notice.dossier_code,
        "agency_name": notice.agency_name,
        "procedure_name": notice.procedure_name[:100],
        "original_date": format_date(notice.original_date, "vi"),
        "new_date": format_date(notice.new_date, "vi"),
        "notice_number": f"{notice.number_seq}/PXL",
        "citizen_name": notice.citizen_name or "",
    }
