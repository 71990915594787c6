"""Dossier records as one-stop systems send them: checked and normalised, one at a time.

One strict model (`DossierRecord`) holds the rules for the JSON API and for the
spreadsheet import, so a file and a request reject the same record for the same
reason. JSON values are taken as they are: an object is not a name, `true` is not a
code, "٣" is not a digit. Spreadsheet cells first go through `_cell`, which only
undoes what Excel does to a value (a code or phone typed as a number, a date cell,
a time without a zone) before the same model sees them. Reasons name the field and
never repeat the value: a value may be a citizen's name or phone number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time, tzinfo
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)

from bot.boundary import SafeText, SaneDate, SaneDateTime, StrictCount, ascii_int, describe_errors
from bot.phones import normalise_phone
from bot.states import DossierState
from bot.tabular import DAY_FORMATS, MOMENT_FORMATS, parse_moment_text

LOCAL_ZONE: ContextVar[tzinfo] = ContextVar("dossier_local_zone")

STATES = {
    DossierState.NEW: "Mới đăng ký",
    DossierState.RECEIVED: "Được tiếp nhận",
    DossierState.NOT_RECEIVED: "Không được tiếp nhận",
    DossierState.PROCESSING: "Đang xử lý",
    DossierState.SUPPLEMENT: "Yêu cầu bổ sung giấy tờ",
    DossierState.FINANCIAL: "Yêu cầu thực hiện nghĩa vụ tài chính",
    DossierState.WITHDRAWN: "Công dân yêu cầu rút hồ sơ",
    DossierState.STOPPED: "Dừng xử lý",
    DossierState.DONE: "Đã xử lý xong",
    DossierState.RETURNED: "Đã trả kết quả",
}
"""The state names the one-stop systems show (the CLI's listings show them too)."""

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
# How an office heads each column (any alias above also works) and what it holds, for
# `dossiers import --help` and the README; a test checks every header folds to an alias.
Column = tuple[str, str, str, str]  # Vietnamese header, English header, needed, holds
COLUMNS: dict[str, Column] = {
    "code": ("Mã hồ sơ", "Code", "always", "the one-stop system's code; sent again, it updates"),
    "agency": ("Mã cơ quan", "Agency", "new dossier", "agency code (an API key implies its own)"),
    "procedure_code": ("Mã thủ tục", "Procedure code", "no", "gives the receipt's survey code"),
    "procedure_name": (
        "Tên thủ tục",
        "Procedure name",
        "new dossier",
        "unless the procedure code is in the catalogue",
    ),
    "field": ("Lĩnh vực", "Field", "no", "the procedure's field (Hộ tịch …)"),
    "citizen_name": ("Họ tên", "Citizen name", "no", "printed on the apology notice"),
    "phone": ("Số điện thoại", "Phone", "no", "0… or +84…, for Zalo notices"),
    "received_at": ("Ngày tiếp nhận", "Received at", "new dossier", "a time or a day"),
    "appointment_date": (
        "Ngày hẹn trả",
        "Appointment date",
        "new dossier, or processing days",
        "a day",
    ),
    "processing_days": (
        "Số ngày giải quyết",
        "Processing days",
        "no",
        "working days after receipt; gives the appointment date when it is left out",
    ),
    "state": ("Trạng thái", "State", "no", "1-10, the one-stop states (default 2)"),
    "state_changed_at": ("Ngày cập nhật", "State changed at", "no", "a time or a day"),
    "finished_at": ("Ngày xử lý xong", "Finished at", "no", "a time or a day"),
    "returned_at": ("Ngày trả kết quả", "Returned at", "no", "a time or a day"),
    "pauses": (
        "Tạm dừng",
        "Pauses",
        "no",
        "supplement pauses: 01/02/2027-03/02/2027; 01/03/2027- (still open)",
    ),
    "new_appointment_date": ("Ngày hẹn mới", "New appointment date", "no", "a day, set once"),
    "delay_reason": ("Lý do chậm", "Delay reason", "no", "printed on the apology notice"),
}
CLEARABLE = frozenset({"field", "delay_reason"})  # null/empty erases these
TEXT_FIELDS = frozenset(
    {"code", "agency", "procedure_code", "procedure_name", "field", "citizen_name", "delay_reason"}
)
DATE_FIELDS = frozenset({"appointment_date", "new_appointment_date"})
MOMENT_FIELDS = frozenset({"received_at", "state_changed_at", "finished_at", "returned_at"})
SERVICE_NAME_MAX = 255  # services.name: a procedure created from a record must fit
MAX_PAUSES = 20
MAX_PAUSED_DAYS = 3660  # ten years in all: the working-day calendar's own bound
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
_EXACT_FLOAT = 2**53  # a spreadsheet number above this is not the digits typed
_LINE_BREAKS = frozenset("\n\r\t")
_DAY_TEXT = r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{4}"
_PAUSE_TEXT = re.compile(rf"({_DAY_TEXT})\s*(?:(?:/|-|–|\.\.)\s*({_DAY_TEXT})?)?", re.ASCII)
_PAUSE_PARTS = re.compile(rf"({_DAY_TEXT})\s*(?:/|-|–|\.\.)\s*(.+)", re.ASCII)  # a bad end


class RecordError(ValueError):
    """A record cannot be used; `reasons` lists every problem found, by field."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


# -- field types ---------------------------------------------------------------------------


def _code_chars(value: str) -> str:
    if not _CODE.fullmatch(value):
        raise ValueError("only letters, digits and . _ / - are allowed")
    return value


def _invisible(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf")


def _one_line(value: str) -> str:
    """Names are printed on legal notices: no control or bidirectional-override characters."""
    if any(_invisible(char) for char in value):
        raise ValueError("contains control or formatting characters")
    return value


def _prose(value: str) -> str:
    if any(_invisible(char) and char not in _LINE_BREAKS for char in value):
        raise ValueError("contains control or formatting characters")
    return value


def _code_text(max_length: int) -> Any:
    return Annotated[SafeText(max_length, min_length=1), AfterValidator(_code_chars)]


def _line(max_length: int) -> Any:
    return Annotated[SafeText(max_length, min_length=1), AfterValidator(_one_line)]


def _whole_number(value: Any) -> int | None:
    """An int, a float without fraction, or a string of ASCII digits; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        return ascii_int(value, max_digits=4)
    return None


def _state(value: Any) -> int:
    state = _whole_number(value)
    if state not in STATES:
        raise ValueError("must be a number from 1 to 10")
    return state


def _processing_days(value: Any) -> int:
    days = _whole_number(value)
    if days is None:
        raise ValueError("must be a whole number of working days")
    if not 0 <= days <= 365:
        raise ValueError("must be between 0 and 365")
    return days


def _phone(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    return normalise_phone(value)


def _zone() -> tzinfo:
    try:
        return LOCAL_ZONE.get()
    except LookupError:
        raise RuntimeError("parse records inside local_zone(settings.zone)") from None


@contextmanager
def local_zone(zone: tzinfo) -> Iterator[None]:
    """Read times written without a zone as local time in `zone` (the TIMEZONE setting).

    `parse_record` is called deep inside the shared upsert, which sets the zone it was
    given around it; there is no default, so no caller can forget the setting.
    """
    token = LOCAL_ZONE.set(zone)
    try:
        yield
    finally:
        LOCAL_ZONE.reset(token)


def _to_date(value: Any) -> date:
    """A date object, or a day as exports write it (22/10/2026, 22-10-2026, 2026-10-22).

    A day with a time of day (22/10/2026 17:00, as some exports write the appointment)
    is that local day; with a zone, the day it is in local time.
    """
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and value.isascii() and len(value) <= 40:
        try:
            return parse_moment_text(value, _zone()).astimezone(_zone()).date()
        except (ValueError, OverflowError):  # year 9999 with an offset: past datetime.max
            pass
    raise ValueError(f"not a date (use {DAY_FORMATS})")


def _to_moment(value: Any) -> datetime:
    """An instant: an aware datetime, a date (midnight, local time), or text as exports
    write it: 22/10/2026 09:15[:30], 22-10-2026 09:15, 2026-10-22 09:15, ISO 8601.

    A time without a zone is local time (`local_zone`, by default Asia/Ho_Chi_Minh).
    """
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value
    elif isinstance(value, date):
        return datetime.combine(value, time(), _zone())
    elif isinstance(value, str) and value.isascii() and len(value) <= 40:
        try:
            moment = parse_moment_text(value, _zone())
        except ValueError:
            pass
        else:
            return moment
    raise ValueError(f"not a date or time (use {MOMENT_FORMATS})")


Code = _code_text(64)
Day = Annotated[SaneDate, BeforeValidator(_to_date)]
Moment = Annotated[SaneDateTime, BeforeValidator(_to_moment)]
Phone = Annotated[str, BeforeValidator(_phone)]
State = Annotated[StrictCount, BeforeValidator(_state)]
ProcessingDays = Annotated[StrictCount, BeforeValidator(_processing_days)]


class Pause(BaseModel):
    """A supplement pause: the clock stops from `from` to `to` (open while `to` is null).

    Other keys are ignored, as in a record: refusing them would put the client's key,
    which may be anything, into the reason.
    """

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    start: Day = Field(alias="from")
    end: Day | None = Field(default=None, alias="to")


def _pause_items(value: Any) -> Any:
    """[{"from": …, "to": …}], or as a cell holds it: "2027-02-01/2027-02-03; 2027-03-01/",
    "01/02/2027-03/02/2027", "01/02/2027 - 03/02/2027" (the end left out: still open)."""
    if isinstance(value, str):
        if len(value) > MAX_PAUSES * 24:
            raise ValueError(f"at most {MAX_PAUSES} pauses")
        items = []
        for part in filter(None, (p.strip() for p in value.split(";"))):
            match = _PAUSE_TEXT.fullmatch(part) or _PAUSE_PARTS.fullmatch(part)
            start, end = match.groups() if match else (part, None)
            items.append({"from": start, "to": end})
        return items
    if isinstance(value, list):
        return [
            {**item, "to": None} if isinstance(item, dict) and item.get("to") == "" else item
            for item in value
        ]
    raise ValueError("must be a list of {from, to}")


def _pause_rules(pauses: list[Pause]) -> list[Pause]:
    pauses = sorted(pauses, key=lambda pause: pause.start)
    if any(pause.end is not None and pause.end < pause.start for pause in pauses):
        raise ValueError("a pause ends before it begins")
    if sum(pause.end is None for pause in pauses) > 1:
        raise ValueError("at most one pause can still be open")
    if sum((p.end - p.start).days for p in pauses if p.end is not None) > MAX_PAUSED_DAYS:
        raise ValueError("longer than ten years in all")
    return pauses


Pauses = Annotated[
    list[Pause],
    Field(max_length=MAX_PAUSES),
    BeforeValidator(_pause_items),
    AfterValidator(_pause_rules),
]


class DossierRecord(BaseModel):
    """One record, strictly typed. A field left out (or null) leaves the stored value."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    code: Code
    agency: _code_text(32) | None = None
    procedure_code: _code_text(32) | None = None
    procedure_name: _line(500) | None = None
    field: _line(128) | None = None  # fits services.field when a procedure is created
    citizen_name: _line(255) | None = None
    phone: Phone | None = None
    received_at: Moment | None = None
    appointment_date: Day | None = None
    processing_days: ProcessingDays | None = None
    state: State | None = None
    state_changed_at: Moment | None = None
    finished_at: Moment | None = None
    returned_at: Moment | None = None
    pauses: Pauses | None = None
    new_appointment_date: Day | None = None
    delay_reason: Annotated[SafeText(1000, min_length=1), AfterValidator(_prose)] | None = None


# -- reading a record ----------------------------------------------------------------------


def _pick(raw: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    for alias in ALIASES[name]:
        if alias in raw:
            value = raw[alias]
            if isinstance(value, str):
                value = value.strip()
            return True, (None if value in ("", None) else value)
    return False, None


def _cell(name: str, value: Any) -> Any:
    """Undo what a spreadsheet does to a value; anything else goes to the model as it is."""
    if isinstance(value, bool):
        return value
    if isinstance(value, datetime):
        if name in DATE_FIELDS:
            return value.date()
        if name in MOMENT_FIELDS and value.tzinfo is None:
            return value.replace(tzinfo=_zone())
        return value
    if name not in TEXT_FIELDS and name != "phone":
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < _EXACT_FLOAT:
        value = int(value)
    if isinstance(value, int):
        digits = str(value)
        # A number cell drops the phone number's leading 0; 84… has 11 or 12 digits.
        if name == "phone" and len(digits) in (9, 10):
            return "0" + digits
        return digits
    return value


def parse_record(raw: Any, *, cells: bool = False) -> dict[str, Any]:
    """The fields present in `raw`, normalised; RecordError lists what is wrong.

    `cells`: `raw` is a spreadsheet row (`bot.tabular.read_rows`), not JSON. Only
    fields present are returned, so a record with a code and a state is a state
    change that leaves everything else as it was. Pauses come back as (from, to).
    """
    if not isinstance(raw, Mapping):
        raise RecordError(["record: must be an object"])
    picked: dict[str, Any] = {}
    for name in ALIASES:
        present, value = _pick(raw, name)
        if not present or (value is None and name not in CLEARABLE):
            continue  # an empty cell or a null leaves the stored value as it is
        picked[name] = _cell(name, value) if cells else value
    try:
        record = DossierRecord.model_validate(picked)
    except ValidationError as error:
        raise RecordError(describe_errors(error)) from None
    values = {name: getattr(record, name) for name in record.model_fields_set}
    if "pauses" in values:
        values["pauses"] = [(pause.start, pause.end) for pause in values["pauses"]]
    return values


def raw_code(raw: Any) -> str | None:
    """The record's code as given, when it is a well-formed code, to report a bad record."""
    if not isinstance(raw, Mapping):
        return None
    _, value = _pick(raw, "code")
    if isinstance(value, str) and len(value) <= 64 and _CODE.fullmatch(value):
        return value
    return None
