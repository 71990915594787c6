"""The survey's face: every name it lists resolves, loaded only on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import handlers.survey as survey
from handlers.survey import _conversation, _kinds, store


def test_every_listed_name_is_the_function_of_its_module() -> None:
    assert survey.handle is _conversation.handle
    assert survey.split_command is _conversation.split_command
    assert survey.readable is _conversation.readable
    assert survey.position is _kinds.position
    assert survey.next_step is _kinds.next_step
    assert survey.expire_idle_sessions is store.expire_idle_sessions
    assert {name: getattr(survey, name) for name in survey.__all__}


def test_a_name_the_face_does_not_list_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Turn'"):
        survey.Turn  # noqa: B018


def test_importing_the_codes_does_not_import_the_conversation() -> None:
    # The dossiers feature imports the codes; the conversation imports the dossiers.
    script = (
        "import sys, handlers.survey.codes; print('handlers.survey._conversation' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
