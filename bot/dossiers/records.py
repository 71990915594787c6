"""Dossier records as one-stop systems send them: checked and normalised, one at a time.

The same rules serve the spreadsheet import and the JSON API, so a file and a
request reject the same record for the same reason. Reasons name the field and
never repeat the value: a value may be a citizen's name or phone number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from bot.tabular import date_cell
from bot.workdays import ZONE

STATES = {
    1: "Mới đăng ký",
    2: "Được tiếp nhận",
    3: "Không được tiếp nhận",
    4: "Đang xử lý",
    5: "Yêu cầu bổ sung giấy tờ",
    6: "Yêu cầu thực hiện nghĩa vụ tài chính",
    7: "Công dân yêu cầu rút hồ sơ",
    8: "Dừng xử lý",
    9: "Đã xử lý xong",
    10: "Đã trả kết quả",
}
OPEN_STATES = frozenset({1, 2, 4, 5, 6})  # the result is still owed: can become late
FINISHED_STATES = frozenset({9, 10})
CLOSED_STATES = frozenset({3, 7, 8, 10})  # nothing left to do: the retention clock runs
SUPPLEMENT = 5
RETURNED = 10

# canonical name -> accepted spreadsheet headers (folded: no accents, '_' for spaces)
ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("code", "ma_ho_so", "so_ho_so"),
    "agency": ("agency", "agency_code", "ma_co_quan", "ma_don_vi"),
    "procedure_code": ("procedure_code", "ma_thu_tuc", "ma_tthc"),
    "procedure_name": ("procedure_name", "procedure", "ten_thu_tuc", "thu_tuc"),
    "field": ("field", "linh_vuc"),
    "citizen_name": ("citizen_name", "name", "ho_ten", "chu_ho_so", "nguoi_nop"),
    "phone": ("phone", "so_dien_thoai", "dien_thoai", "sdt"),
    "received_at": ("received_at", "ngay_tiep_nhan", "ngay_nhan"),
    "appointment_date": ("appointment_date", "ngay_hen_tra", "ngay_hen"),
    "processing_days": ("processing_days", "so_ngay_giai_quyet", "thoi_han"),
    "state": ("state", "trang_thai"),
    "state_changed_at": ("state_changed_at", "ngay_cap_nhat"),
    "finished_at": ("finished_at", "ngay_xu_ly_xong", "ngay_hoan_thanh"),
    "returned_at": ("returned_at", "ngay_tra_ket_qua"),
    "pauses": ("pauses", "tam_dung"),
    "new_appointment_date": ("new_appointment_date", "ngay_hen_moi"),
    "delay_reason": ("delay_reason", "ly_do_cham", "ly_do"),
}
LIMITS = {
    "code": 64,
    "agency": 32,
    "procedure_code": 32,
    "procedure_name": 500,
    "field": 255,
    "citizen_name": 255,
    "delay_reason": 1000,
}
CLEARABLE = frozenset({"field", "delay_reason"})  # null/empty erases these
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


class RecordError(ValueError):
    """A record cannot be used; `reasons` lists every problem found, by field."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def normalise_phone(raw: str) -> str:
    """A Vietnamese number as 84 followed by the national number (no 0, no +).

    Mobile numbers have 9 digits after the 0 (03x, 05x, 07x, 08x, 09x), landlines 10
    (02x…). The error never repeats the number.
    """
    digits = re.sub(r"[\s.\-()]", "", str(raw))
    digits = digits.removeprefix("+").removeprefix("00")
    if not digits.isdigit():
        raise ValueError("phone: not a Vietnamese phone number")
    if digits.startswith("84"):
        national = digits[2:]
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        raise ValueError("phone: not a Vietnamese phone number")
    if not (
        (len(national) == 9 and national[0] in "35789")
        or (len(national) == 10 and national[0] == "2")
    ):
        raise ValueError("phone: not a Vietnamese phone number")
    return "84" + national


def _pick(raw: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    for alias in ALIASES[name]:
        if alias in raw:
            value = raw[alias]
            if isinstance(value, str):
                value = value.strip()
            return True, (None if value in ("", None) else value)
    return False, None


def _moment(name: str, value: Any) -> datetime:
    """An instant: ISO 8601, a date (midnight in Vietnam) or a spreadsheet datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=ZONE)
    if isinstance(value, date):
        return datetime.combine(value, time(), ZONE)
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.combine(_day(name, text), time(), ZONE)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZONE)


def _day(name: str, value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    try:
        day = date_cell({name: value}, name)
    except ValueError:
        raise ValueError(f"{name}: not a date (use YYYY-MM-DD or DD/MM/YYYY)") from None
    assert day is not None
    return day


def _pauses(value: Any) -> list[tuple[date, date | None]]:
    """[{"from": …, "to": …}] from JSON, or "2027-02-01/2027-02-03; 2027-03-01/" in a cell."""
    items: list[tuple[Any, Any]] = []
    if isinstance(value, str):
        for part in filter(None, (p.strip() for p in value.split(";"))):
            start, _, end = part.partition("/")
            items.append((start.strip(), end.strip() or None))
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, Mapping):
                raise ValueError("pauses: each pause needs from (and to, unless still open)")
            items.append((item.get("from"), item.get("to")))
    else:
        raise ValueError("pauses: a list of {from, to}")
    pauses = []
    for start, end in items:
        if start in (None, ""):
            raise ValueError("pauses: each pause needs from (and to, unless still open)")
        first = _day("pauses", start)
        last = None if end in (None, "") else _day("pauses", end)
        if last is not None and last < first:
            raise ValueError("pauses: a pause ends before it begins")
        pauses.append((first, last))
    if sum(last is None for _, last in pauses) > 1:
        raise ValueError("pauses: at most one pause can still be open")
    return sorted(pauses, key=lambda pause: pause[0])


def parse_record(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The fields present in `raw`, normalised; RecordError lists what is wrong.

    Only fields present are returned, so a record with a code and a state is a state
    change that leaves everything else as it was.
    """
    if not isinstance(raw, Mapping):
        raise RecordError(["record: must be an object"])
    values: dict[str, Any] = {}
    reasons: list[str] = []
    for name in ALIASES:
        present, value = _pick(raw, name)
        if not present or (value is None and name not in CLEARABLE):
            continue  # an empty cell or a null leaves the stored value as it is
        try:
            values[name] = _convert(name, value)
        except ValueError as error:
            reasons.append(str(error))
    if not values.get("code") and not any(r.startswith("code:") for r in reasons):
        reasons.insert(0, "code: required")
    if reasons:
        raise RecordError(reasons)
    return values


def raw_code(raw: Any) -> str | None:
    """The record's code as given, for reporting a record that could not be read."""
    if not isinstance(raw, Mapping):
        return None
    _, value = _pick(raw, "code")
    return value if isinstance(value, str) and len(value) <= 64 else None


def _convert(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in LIMITS:
        text = str(value).strip()
        if len(text) > LIMITS[name]:
            raise ValueError(f"{name}: longer than {LIMITS[name]} characters")
        if name in ("code", "agency", "procedure_code") and not _CODE.match(text):
            raise ValueError(f"{name}: only letters, digits and . _ / - are allowed")
        return text
    if name == "phone":
        return normalise_phone(value)
    if name == "state":
        try:
            state = int(str(value).strip())
        except ValueError:
            raise ValueError("state: must be a number from 1 to 10") from None
        if state not in STATES:
            raise ValueError("state: must be a number from 1 to 10")
        return state
    if name == "processing_days":
        try:
            days = int(str(value).strip())
        except ValueError:
            raise ValueError("processing_days: must be a whole number of working days") from None
        if not 0 <= days <= 365:
            raise ValueError("processing_days: must be between 0 and 365")
        return days
    if name in ("received_at", "state_changed_at", "finished_at", "returned_at"):
        try:
            return _moment(name, value)
        except ValueError:
            raise ValueError(f"{name}: not a date or time (use ISO 8601)") from None
    if name in ("appointment_date", "new_appointment_date"):
        return _day(name, value)
    if name == "pauses":
        return _pauses(value)
    raise AssertionError(name)
