"""Hostile questionnaire files: every one is refused with a QuestionnaireError that names
the file, the place (question, factor, option, scale) and the field, and nothing else
ever escapes the loader (no TypeError, no pydantic error, no RecursionError)."""

from __future__ import annotations

import copy
import datetime
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.questionnaire import QuestionnaireError, load_questionnaire
from tests.bot.test_questionnaire import minimal, write

BASE = minimal()
KNOWN_KEYS = {
    *BASE,
    *("id", "kind", "text", "optional", "verified", "column", "factor", "no_opinion"),
    *("options", "skip_if_no", "max_length", "value", "label", "title", "levels", "scale"),
    *("vi", "en"),
}
# Mappings whose keys are languages, where an extra key is an unknown language.
TRANSLATION_KEYS = {"title", "text", "label", "no_opinion", "column"}

Path_ = tuple[Any, ...]


def nodes(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """Every value below the root of the file, with its path."""
    children = node.items() if isinstance(node, dict) else enumerate(node)
    for key, child in children:
        yield (*path, key), child
        if isinstance(child, dict | list):
            yield from nodes(child, (*path, key))


ALL_NODES = list(nodes(BASE))
MAPPINGS = [((), BASE), *((p, n) for p, n in ALL_NODES if isinstance(n, dict))]


def _get(data: Any, path: Path_) -> Any:
    for step in path:
        data = data[step]
    return data


def _is_translation(path: Path_) -> bool:
    # scale.no_opinion is a translation; a likert question's no_opinion is a boolean
    return bool(path) and path[-1] in TRANSLATION_KEYS and isinstance(_get(BASE, path), dict)


def expected_words(path: Path_, replaced: bool) -> list[str]:
    """What the message must name for a problem at ``path``: the place, then each key.

    A question or factor is named by its id, or by its number where that id, or the
    whole entry (``replaced``), is what is wrong."""
    words: list[str] = []
    rest = list(path)
    if len(path) >= 2 and path[0] in ("questions", "factors"):
        noun = path[0][:-1]
        ident = BASE[path[0]][path[1]]["id"]
        by_number = path[2:] == ("id",) or (replaced and len(path) == 2)
        words.append(f"{noun} #{path[1] + 1}" if by_number else f"{noun} {ident}")
        rest = rest[2:]
    for step in rest:
        if isinstance(step, str):
            words.append(step.removesuffix("s") if step in ("options", "levels") else step)
    return words


def refused(data: Any) -> str:
    """The loader's message for ``data`` written as a file; fails if it loads."""
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), data)
        with pytest.raises(QuestionnaireError) as caught:
            load_questionnaire(path)
    message = str(caught.value)
    assert message.startswith("tiny.yaml: "), message
    return message


def assert_names(message: str, path: Path_, replaced: bool = False) -> None:
    for word in expected_words(path, replaced):
        assert word in message, (word, message)


# ------------------------------------------------------------------ wrong types

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False),
    st.text(max_size=4),
    st.dates(min_value=datetime.date(1900, 1, 1)),
    st.binary(max_size=3),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=2),
    st.dictionaries(st.text(max_size=3), scalars, max_size=2),
    st.frozensets(st.integers(0, 9), max_size=2).map(set),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(ALL_NODES), values)
def test_a_value_of_the_wrong_type_is_refused_naming_place_and_field(
    target: tuple[Path_, Any], value: Any
) -> None:
    path, original = target
    if type(value) is type(original):
        return  # same type: not what this property is about
    data = copy.deepcopy(BASE)
    _get(data, path[:-1])[path[-1]] = value
    assert_names(refused(data), path, replaced=True)


# -------------------------------------------------------------------- extra keys

keys = st.one_of(
    # printable: YAML itself folds control characters such as NEL into a space
    st.text(
        st.characters(min_codepoint=33, max_codepoint=0x24F, exclude_categories=("Cc", "Z")),
        min_size=1,
        max_size=8,
    ),
    st.integers(-5, 5),
    st.booleans(),
).filter(lambda key: key not in KNOWN_KEYS)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(MAPPINGS), keys, scalars)
def test_an_unknown_key_is_refused_naming_it(
    target: tuple[Path_, Any], key: Any, value: Any
) -> None:
    path, _ = target
    data = copy.deepcopy(BASE)
    _get(data, path)[key] = value
    message = refused(data)
    assert_names(message, path)
    what = "unknown language" if _is_translation(path) else "unknown key"
    assert f"{what} {key!r}" in message, message


# ------------------------------------------------------------------ missing keys

KEYS = [(path, key) for path, mapping in MAPPINGS for key in mapping if not _is_translation(path)]
OPTIONAL_KEYS = {"verified", "optional", "no_opinion"}  # each has a default


@pytest.mark.parametrize(("path", "key"), KEYS, ids=[f"{p}-{k}" for p, k in KEYS])
def test_a_missing_key_is_refused_naming_it(tmp_path: Path, path: Path_, key: str) -> None:
    data = copy.deepcopy(BASE)
    del _get(data, path)[key]
    if key in OPTIONAL_KEYS and path != ("scale",):
        load_questionnaire(write(tmp_path, data))  # loads with the default
        return
    message = refused(data)
    if key == "kind":  # the question becomes a likert one, with keys of its own kind
        assert_names(message, path)
        assert "questions, not to likert" in message, message
        return
    assert_names(message, (*path, key))
    if key == "factor":
        assert "a likert question needs a factor" in message
    else:
        assert f"missing {key!r}" in message, message


# --------------------------------------------------------- duplicate ids, translations


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["questions", "factors"]), st.data())
def test_a_repeated_id_is_refused_naming_it(section: str, data: st.DataObject) -> None:
    count = len(BASE[section])
    first = data.draw(st.integers(0, count - 1))
    second = data.draw(st.integers(0, count - 1).filter(lambda n: n != first))
    document = copy.deepcopy(BASE)
    ident = document[section][first]["id"]
    document[section][second]["id"] = ident
    assert f"duplicate {section[:-1]} id {ident!r}" in refused(document)


TRANSLATIONS = [p for p, _ in MAPPINGS if _is_translation(p)]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(TRANSLATIONS), st.sampled_from(["vi", "en"]), st.sampled_from([0, 1, 2]))
def test_a_missing_translation_is_refused_naming_place_field_and_language(
    path: Path_, lang: str, how: int
) -> None:
    data = copy.deepcopy(BASE)
    texts = _get(data, path)
    if how == 0:
        del texts[lang]
    else:
        texts[lang] = " " * (how - 1)
    message = refused(data)
    assert_names(message, path)
    assert f"missing {lang!r} translation" in message, message


# ------------------------------------------------------------------ hostile YAML


def _with(text: str) -> str:
    """The valid file with ``text`` appended (later keys of a mapping are refused)."""
    return yaml.safe_dump({k: v for k, v in BASE.items() if k != "questions"}) + text


def _replacing(old: str, new: str) -> str:
    text = yaml.safe_dump(BASE, allow_unicode=True, sort_keys=False)
    assert old in text
    return text.replace(old, new)


HOSTILE_TEXT = [
    ("python object", "!!python/object/apply:os.system ['true']\n", "not valid YAML"),
    ("unhashable key", "? [a]\n: 1\n", "not valid YAML"),
    ("two documents", "a: 1\n---\nb: 2\n", "not valid YAML"),
    ("deep nesting", "[" * 5000 + "]" * 5000, "not valid YAML"),
    ("number key", "1: 2\nid: x\n", "unknown key 1"),
    ("null key", "~: 2\nid: x\n", "unknown key None"),
    ("recursive questions", _with("questions: &q\n- *q\n"), "question #1: expected a mapping"),
    ("questions a set", _with("questions: !!set {a: null}\n"), "'questions' must be a non-empty"),
    ("binary id", "id: !!binary aGk=\n", "questionnaire id must be letters"),
    ("date id", "id: 2026-01-01\n", "questionnaire id must be letters"),
    ("huge", _with("questions: [{id: q, factor: F1, text: {vi: a, en: b}, optional: .inf}]\n"),
     "question q: 'optional' must be true or false, got inf"),
    ("binary rule", _replacing("mean_of_factors", "!!binary bWVhbl9vZl9mYWN0b3Jz"),
     "unknown aggregation b'mean_of_factors'"),
    ("binary label", _replacing("en: Male", "en: !!binary TWFsZQ=="),
     "question gender: option 1: label: 'en' translation must be text"),
    ("scalar file", "just text\n", "expected a mapping with keys id, languages"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"), [c[1:] for c in HOSTILE_TEXT], ids=[c[0] for c in HOSTILE_TEXT]
)
def test_hostile_yaml_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(path)
    assert str(caught.value).startswith("tiny.yaml: ")
    assert message in str(caught.value)


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60))
def test_arbitrary_text_is_refused_with_the_loaders_own_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tiny.yaml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(QuestionnaireError, match=r"^tiny\.yaml: "):
            load_questionnaire(path)
