"""The shape README's "How it fits together" promises, checked on the source itself.

A newcomer learns where code goes from the tree; these tests keep the tree honest:
no import cycle (TYPE_CHECKING and function-level imports count), use cases that
never reach a platform or the machinery that sends, one owner of dialect
differences, and modules small enough to read (or saying why they are not).
"""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "scoring")
MAX_LINES = 450
# What a use case must not import: platforms, the machinery that sends or draws.
PLATFORM = ("telegram", "aiohttp", "httpx", "bot.channels", "bot.delivery", "bot.web", "bot.cli")
MACHINERY = ("bot.inbound", "bot.outbox", "bot.jobs", "bot.scheduler", "bot.rendering", "bot.zalo")
RENDERING = ("matplotlib", "openpyxl", "fpdf", "PIL", "qrcode")


@cache
def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _first_party(name: str) -> str | None:
    known = modules()
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


@cache
def imports_of(module: str) -> frozenset[str]:
    """Every module this one imports, first or third party, wherever the import stands."""
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            # `from package import name`: the submodule when `name` is one, else the package.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(names)


def first_party_imports(module: str) -> set[str]:
    found = {_first_party(name) for name in imports_of(module)} - {None, module}
    return found  # type: ignore[return-value]


def cycles() -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    graph = {module: first_party_imports(module) for module in modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycles():
    assert cycles() == []


def _names(module: str, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(
        name
        for name in imports_of(module)
        if any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)
    )


@pytest.mark.parametrize("module", sorted(m for m in modules() if m.startswith("handlers")))
def test_use_cases_reach_no_platform_and_draw_nothing(module):
    assert _names(module, PLATFORM + MACHINERY + RENDERING) == []


@pytest.mark.parametrize("module", sorted(m for m in modules() if m.startswith("scoring")))
def test_scoring_is_pure_mathematics(module):
    """Counts in, indices out: the standard library and scoring itself, nothing else."""
    tops = {name.partition(".")[0] for name in imports_of(module)}
    assert tops - set(sys.stdlib_module_names) - {"scoring", "__future__"} == set()


DIALECT_WORDS = ("dialect.name", "is_sqlite", "sqlalchemy.dialects", "pg_advisory")


@pytest.mark.parametrize("module", sorted(m for m in modules() if m != "bot.database"))
def test_dialect_differences_live_in_bot_database(module):
    source = modules()[module].read_text("utf-8")
    assert [word for word in DIALECT_WORDS if word in source] == []


@pytest.mark.parametrize("module", sorted(modules()))
def test_modules_stay_readable_or_say_why(module):
    path = modules()[module]
    lines = path.read_text("utf-8").count("\n")
    if lines <= MAX_LINES:
        return
    docstring = ast.get_docstring(ast.parse(path.read_text("utf-8"))) or ""
    assert "Longer than" in docstring, f"{module}: {lines} lines and no reason at its top"


QUERY = re.compile(r"(?<![\w.])(select|insert|update|delete)\(|session\.execute\(")


def _is_store(module: str) -> bool:
    return any(part == "store" or part.startswith("_store") for part in module.split("."))


@pytest.mark.parametrize(
    "module", sorted(m for m in modules() if m.startswith("handlers") and not _is_store(m))
)
def test_use_cases_build_queries_only_in_their_store(module):
    source = modules()[module].read_text("utf-8")
    assert QUERY.findall(source) == []


@pytest.mark.parametrize("module", sorted(modules()))
def test_a_feature_is_entered_by_its_face_not_its_private_modules(module):
    """`handlers.<feature>._x` is private to the feature: other code goes through the
    feature's face or its public modules."""
    feature = module.split(".")[:2] if module.startswith("handlers.") else None
    for name in imports_of(module):
        parts = name.split(".")
        if parts[0] != "handlers" or len(parts) < 3 or not parts[2].startswith("_"):
            continue
        assert parts[:2] == feature, f"{module} imports {name}"
