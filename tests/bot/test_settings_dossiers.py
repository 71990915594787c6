"""DOSSIER_* and OUTBOX_* settings: defaults, the shipped .env.example, named errors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bot.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith(("DOSSIER_", "OUTBOX_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_the_example_file_gives_the_defaults(clean_env, tmp_path):
    defaults = load_settings()
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    example = load_settings()
    assert example.dossier == defaults.dossier and example.outbox == defaults.outbox
    assert example.dossier.template_dir is None and example.dossier.pdf_font is None
    assert example.outbox.rate("telegram") == 15.0  # half of Telegram's 30/s
    assert example.outbox.rate("unknown") == 0.5


def test_rates_come_as_json(clean_env):
    clean_env.setenv("OUTBOX_PLATFORM_RATES", '{"telegram": 100}')
    clean_env.setenv("OUTBOX_RATE_SHARE", "0.9")
    assert load_settings().outbox.rate("telegram") == pytest.approx(90.0)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DOSSIER_RETENTION_DAYS", "0"),
        ("DOSSIER_NEW_DATE_WORKING_DAYS", "many"),
        ("DOSSIER_APOLOGY_TEMPLATE", "../etc/passwd"),
        ("OUTBOX_RATE_SHARE", "1.5"),
        ("OUTBOX_PLATFORM_RATES", '{"telegram": 0}'),
    ],
)
def test_a_bad_value_is_named(clean_env, variable, value):
    clean_env.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()
