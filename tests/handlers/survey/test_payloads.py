"""Button payloads: what the survey writes on a button reads back, and nothing else does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.survey import _payloads as payloads
from handlers.survey._payloads import Payload

NONCE = "0f3a9c"


def test_the_payloads_the_survey_writes_read_back() -> None:
    assert payloads.parse(payloads.answer(NONCE, 12, 4), NONCE) == Payload("a", 12, "4")
    assert payloads.parse(payloads.answer(NONCE, 3, payloads.SKIP), NONCE) == Payload("a", 3, "s")
    assert payloads.parse(payloads.agency(NONCE, 77), NONCE) == Payload("g", 77)
    assert payloads.parse(payloads.service(NONCE, 5), NONCE) == Payload("v", 5)


@pytest.mark.parametrize(
    "payload",
    [
        "a.ffffff.12.4",  # another session's nonce
        "a.0f3a9c.12",  # an answer without its value
        "g.0f3a9c.77.1",  # an agency with a value
        "x.0f3a9c.1",  # no such kind
        "g.0f3a9c. 77",  # spaces around the number
        "g.0f3a9c.٧٧",  # digits of another script
        "g.0f3a9c.1234567890",  # longer than any id
        "",
    ],
)
def test_anything_else_reads_as_no_payload(payload: str) -> None:
    assert payloads.parse(payload, NONCE) is None


@given(st.text(max_size=40))
def test_no_text_breaks_the_reading(text: str) -> None:
    parsed = payloads.parse(text, NONCE)
    assert parsed is None or text.split(".")[1] == NONCE
