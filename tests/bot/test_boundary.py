"""The boundary primitives every entry point uses: bounded JSON, strict types, headers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, ValidationError

from bot.boundary import (
    MAX_JSON_DEPTH,
    BoundaryError,
    SafeText,
    SaneDate,
    SaneDateTime,
    StrictCount,
    ascii_header,
    ascii_int,
    check_text,
    describe_errors,
    json_depth,
    parse_json,
    secret_equals,
)


def test_json_depth_counts_arrays_and_objects_and_ignores_brackets_in_strings():
    assert json_depth(b"1") == 0
    assert json_depth(b'{"a": [1, {"b": []}]}') == 4
    assert json_depth(b'["[[[[[[", "{{{{", "\\"[[["]') == 1
    assert json_depth(b'{"k": "]]]]}}}}"}') == 1
    assert json_depth(b"[" * 1000 + b"]" * 1000) > MAX_JSON_DEPTH


def test_parse_json_refuses_deep_nesting_before_parsing():
    nested = b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)
    with pytest.raises(BoundaryError) as refused:
        parse_json(nested)
    assert refused.value.status == 400
    deep_object = b'{"a":' * 1000 + b"1" + b"}" * 1000
    with pytest.raises(BoundaryError):
        parse_json(deep_object)
    ok = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    assert parse_json(ok) is not None


@pytest.mark.parametrize(
    "body", [b'{"a": "\xff"}', b"\xfe\xff", b'"\xed\xa0\x80"', b"{", b"", b"[1,]", b"1" * 5000]
)
def test_parse_json_refuses_what_is_not_utf8_json(body):
    with pytest.raises(BoundaryError) as refused:
        parse_json(body)
    assert refused.value.status == 400
    assert "\xff" not in refused.value.reason


def test_parse_json_reads_good_json_with_escapes():
    assert parse_json('{"t": "hài lòng", "n": [1, 2.5, null, true]}'.encode()) == {
        "t": "hài lòng",
        "n": [1, 2.5, None, True],
    }


@pytest.mark.parametrize("text", ["²", "٣", "1²", "1" * 10_000, "", " ", "-1", "+1", "1.0", "1e3"])
def test_ascii_int_refuses_other_digits_signs_and_huge_numbers(text):
    assert ascii_int(text, max_digits=9) is None


def test_ascii_int_reads_ascii_digits_within_bounds():
    assert ascii_int(" 42 ") == 42
    assert ascii_int("007") == 7
    assert ascii_int("1234567890", max_digits=9) is None
    assert ascii_int("1234567890", max_digits=10) == 1234567890


class Text(BaseModel):
    value: SafeText(10, min_length=1)


@pytest.mark.parametrize(
    "value", [{"a": 1}, ["a"], True, 1, 1.5, None, "a\x00b", "\ud800", "x" * 11, "   "]
)
def test_safe_text_refuses_non_strings_nul_surrogates_and_bounds(value):
    with pytest.raises(ValidationError) as refused:
        Text(value=value)
    lines = describe_errors(refused.value)
    assert lines and all(line.startswith("value: ") for line in lines)
    if isinstance(value, str) and value.strip():
        assert all(value not in line for line in lines)  # never echoes the value


def test_safe_text_strips_and_keeps_unicode():
    assert Text(value="  hài lòng ").value == "hài lòng"


def test_check_text():
    assert check_text("bình thường") == "bình thường"
    for bad in ("\x00", "a\udc80"):
        with pytest.raises(ValueError):
            check_text(bad)


class Moments(BaseModel):
    day: SaneDate | None = None
    moment: SaneDateTime | None = None
    count: StrictCount | None = None


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=7))),
        "0001-01-01T00:00:00+07:00",
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-7))),
        "9999-12-31T23:59:59-12:00",
        datetime(2026, 1, 1),  # naive
        "2026-01-01T00:00:00",
        datetime(1999, 12, 31, tzinfo=UTC),
    ],
)
def test_sane_datetime_refuses_far_dates_and_naive_times(moment):
    with pytest.raises(ValidationError):
        Moments(moment=moment)


def test_sane_dates_in_the_window_pass():
    assert Moments(moment="2026-11-23T10:00:00+07:00").moment.utcoffset() == timedelta(hours=7)
    assert Moments(day="2026-11-23").day == date(2026, 11, 23)
    for day in ("0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01"):
        with pytest.raises(ValidationError):
            Moments(day=day)


def test_strict_count_refuses_booleans():
    assert Moments(count=3).count == 3
    for bad in (True, False):
        with pytest.raises(ValidationError):
            Moments(count=bad)


def test_headers_are_credentials_only_as_printable_ascii():
    assert ascii_header("mac=abc ") == b"mac=abc"
    assert ascii_header(None) is None
    assert ascii_header("s\udcff") is None  # a non-UTF-8 byte, as aiohttp hands it over
    assert ascii_header("sécret") is None
    assert ascii_header("x" * 2000) is None
    assert secret_equals("s3cret-value", "s3cret-value")
    assert secret_equals("s3cret-value", b"s3cret-value")
    for given in (None, "", "s3cret-valu", "s3cret-value\udcff", "s3crét-value"):
        assert not secret_equals(given, "s3cret-value")
    assert not secret_equals("", "")  # an empty secret never matches
