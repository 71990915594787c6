"""Spreadsheet cells and settings read numbers from ASCII digits only: "٣" or "５" is not
3 or 5 (`int()` would read them so), and "²" is refused by name, not by a crash."""

from __future__ import annotations

import pytest

from bot.settings import ConfigError, load_settings
from tests.handlers.survey.test_forms_import import counts, form, run, seed, write_csv


async def test_answers_in_other_digits_are_rejected_not_read(database, tmp_path):
    await seed(database)
    path = tmp_path / "forms.csv"
    write_csv(
        path,
        [
            form("P1", 5, first="٣"),  # Arabic-Indic three
            form("P2", 5, first="５"),  # full-width five
            form("P3", 5, first="²"),
            form("P4", 5, first="3²"),
            form("P5", 5, first=" 4 "),  # ASCII with spaces: fine
        ],
    )
    report = await run(database, path)
    assert [number for number, _ in report.rejected] == [2, 3, 4, 5]
    assert all(reason.startswith("F1.1: ") for _, reason in report.rejected)
    assert not any("invalid literal" in reason for _, reason in report.rejected)
    assert report.stored == 1
    assert (await counts(database))[0] == 1


@pytest.mark.parametrize("value", ["²", "٣", "５", "0", "8"])
def test_a_digest_weekday_in_other_digits_is_refused(monkeypatch, value):
    monkeypatch.setenv("OFFICIALS_DIGEST_WEEKDAY", value)
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert str(refused.value) == (
        "OFFICIALS_DIGEST_WEEKDAY: must be a weekday: 1-7 (1 = Monday) or mon..sun"
    )


@pytest.mark.parametrize(("value", "weekday"), [("3", 3), (" 7 ", 7), ("fri", 5)])
def test_a_digest_weekday_in_ascii_digits_or_words_is_read(monkeypatch, value, weekday):
    monkeypatch.setenv("OFFICIALS_DIGEST_WEEKDAY", value)
    assert load_settings().officials.digest_weekday == weekday


def test_a_digest_time_in_other_digits_is_refused(monkeypatch):
    monkeypatch.setenv("OFFICIALS_DIGEST_TIME", "٠٨:٠٠")
    with pytest.raises(ConfigError, match="OFFICIALS_DIGEST_TIME"):
        load_settings()
