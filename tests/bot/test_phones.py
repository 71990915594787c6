"""The one phone normaliser: what people write becomes 84…, anything else is refused
without repeating the number."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.phones import PhoneNumberError, normalise_phone
from bot.zalo import zns

MESSAGE = "not a Vietnamese phone number (expected 0… or +84…)"


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("0912345678", "84912345678"),
        ("0912 345 678", "84912345678"),
        ("+84 912.345.678", "84912345678"),
        ("+84 (0)912-345-678", "84912345678"),
        ("0084912345678", "84912345678"),
        ("84912345678", "84912345678"),
        ("0841234567", "84841234567"),  # 084 is a mobile prefix, not the country code
        ("(024) 3825 1234", "842438251234"),
        ("\u00a00912\u00a0345\u00a0678", "84912345678"),  # spaces pasted from a spreadsheet
    ],
)
def test_what_people_write_becomes_84_and_the_national_number(written, normalised):
    assert normalise_phone(written) == normalised


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "12345",
        "912345678",  # no 0 and no country code
        "+1 415 555 0100",
        "0112345678",  # 01x mobile numbers ended in 2018
        "09123456789012",
        "09¹2345678",  # str.isdigit() says yes; no one can dial it
        "０９１２３４５６７８",
        "٠٩١٢٣٤٥٦٧٨",
        "0912345678\x00",
        "0" * 1000,
        "x",
    ],
)
def test_anything_else_is_refused_without_repeating_it(bad):
    with pytest.raises(PhoneNumberError) as error:
        normalise_phone(bad)
    assert str(error.value) == MESSAGE


@pytest.mark.parametrize("bad", [912345678, None, ["0912345678"], True])
def test_only_text_is_a_phone_number(bad):
    with pytest.raises(PhoneNumberError):
        normalise_phone(bad)


def test_zns_uses_the_same_normaliser():
    assert zns.normalise_phone is normalise_phone and zns.PhoneNumberError is PhoneNumberError


@given(
    st.one_of(
        st.text(max_size=40),
        st.text(alphabet="0123456789 +.-()84", max_size=20),
        st.builds(lambda n: f"0{n}", st.integers(0, 10**10)),
    )
)
def test_any_text_is_either_refused_or_84_and_ascii_digits(text):
    try:
        phone = normalise_phone(text)
    except PhoneNumberError as error:
        assert str(error) == MESSAGE
    else:
        assert re.fullmatch(r"84(?:[35789][0-9]{8}|2[0-9]{9})", phone)
        assert "".join(c for c in text if c in "0123456789").endswith(phone[2:])
