"""Random mutations of valid procedures never crash the validator.

Every mutated pack either validates or yields problems that each name a file and a line
(line 0 only for a problem about the whole file, which has no key path).
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import rules
from engine.model import Pack
from engine.validate import validate_layers
from engine.yamlsafe import load_yaml
from tests.conftest import EXAMPLE_DEFINITIONS, FIXTURES

SOURCES = sorted((FIXTURES / "minimal/procedures").glob("*.yaml")) + sorted(
    (EXAMPLE_DEFINITIONS / "procedures").glob("*.yaml")
)
PROCEDURES = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in SOURCES]
TEXTS = [p.read_text(encoding="utf-8") for p in SOURCES]
KEYS = [
    "id",
    "type",
    "label",
    "required",
    "visible_if",
    "choices",
    "fields",
    "min",
    "max",
    "steps",
    "theme",
    "disabled",
    "open",
    "quota",
    "from",
    "pattern",
    "requierd",
    "x",
]
GARBAGE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "today", "2026-13-45", "x == ", "a and (", "[0-9", "défaut", "nom"]),
    st.text(max_size=8),
    st.lists(st.sampled_from(["a", "b", 1]), max_size=3),
    st.dictionaries(st.sampled_from(KEYS), st.sampled_from(["a", 1, None]), max_size=2),
)


def _containers(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict | list):
        yield path, node
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            yield from _containers(child, (*path, key))


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """YAML text of an example procedure after one to three random mutations."""
    index = draw(st.integers(0, len(PROCEDURES) - 1))
    if draw(st.integers(0, 4)) == 0:  # damage the text itself now and then
        text = TEXTS[index]
        at = draw(st.integers(0, len(text)))
        return (
            text[:at]
            + draw(st.sampled_from(["\t", ":", "'", "- ", "{", "&a ", "*a", "\n  "]))
            + text[at:]
        )
    data = copy.deepcopy(PROCEDURES[index])
    for _ in range(draw(st.integers(1, 3))):
        nodes = list(_containers(data))
        _, node = draw(st.sampled_from(nodes))
        if not node:
            continue
        key = draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
        op = draw(st.sampled_from(["drop", "retype", "rename", "insert"]))
        if op == "drop":
            del node[key]
        elif op == "retype":
            node[key] = draw(GARBAGE)
        elif op == "rename" and isinstance(node, dict):
            node[draw(st.sampled_from(KEYS))] = node.pop(key)
        elif isinstance(node, dict):
            node[draw(st.sampled_from(KEYS))] = draw(GARBAGE)
        else:
            node.insert(key, draw(GARBAGE))
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@pytest.fixture(scope="module")
def packs() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp())
    shutil.copytree(EXAMPLE_DEFINITIONS, root / "base")
    shutil.copytree(FIXTURES / "minimal", root / "minimal")
    yield root
    shutil.rmtree(root)


@settings(
    max_examples=int(os.environ.get("GUICHET_PROPERTY_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(text=mutated(), base=st.sampled_from(["base", "minimal"]))
def test_mutations_never_crash(packs: Path, text: str, base: str) -> None:
    target = packs / base / "procedures" / "mutated.yaml"
    target.write_text(text, encoding="utf-8")
    try:
        result = validate_layers([packs / base])
    finally:
        target.unlink()
    assert (result.pack is None) == bool(result.problems)
    for problem in result.problems:
        assert problem.file
        assert problem.message
        assert problem.line >= 1 or problem.path == (), problem.format()


# --- values: every scalar of every kind of file ------------------------------------------------

EXAMPLE_FILES = sorted(
    p.relative_to(EXAMPLE_DEFINITIONS) for p in EXAMPLE_DEFINITIONS.rglob("*.yaml")
)
EXAMPLE_DATA = {rel: load_yaml(EXAMPLE_DEFINITIONS / rel, str(rel)) for rel in EXAMPLE_FILES}
# Values that passed the schema's forms and crashed later, and their neighbours, by the kind of
# value they replace (a date where a date is, a number where a number is), or any of them.
DATES = st.one_of(
    st.sampled_from(
        [
            "2026-02-30",
            "2026-02-29",
            "2024-02-29",
            "2026-04-31",
            "2026-13-01",
            "0000-01-01",
            "9999-12-31",
            "0001-01-01",
            "today",
            "today + 99999999 years",
            "today - 1000001 days",
            "today + 12001 months",
            "today - 1000 years",
        ]
    ),
    st.dates().map(str),
    st.builds(
        "{}-{:02d}-{:02d}".format, st.integers(0, 9999), st.integers(1, 12), st.integers(28, 31)
    ),
)
NUMBERS = st.one_of(
    st.sampled_from(
        [10**30, -(10**30), 10**99, 10**400, -1, 0, 1, 241, 366, 1e308, float("inf"), 0.5]
    ),
    st.integers(),
    st.floats(allow_nan=False),
)
STRINGS = st.one_of(st.sampled_from(["", " ", "x" * 10_000, "é" * 5_000]), st.text(max_size=12))
HOSTILE = st.one_of(DATES, NUMBERS, STRINGS)
_DATE_LIKE = re.compile(r"^(\d{4}-\d\d-\d\d|today.*)$")


def _hostile_for(value: object) -> st.SearchStrategy[object]:
    if isinstance(value, str) and _DATE_LIKE.match(value):
        return DATES
    if isinstance(value, int | float) and not isinstance(value, bool):
        return NUMBERS
    return STRINGS if isinstance(value, str) else HOSTILE


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict | list):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            yield from _leaves(child, (*path, key))
    else:
        yield path, node


@st.composite
def hostile_file(draw: st.DrawFn) -> tuple[Path, str]:
    """An example file (any kind) with one to three of its scalars replaced by hostile values."""
    rel = draw(st.sampled_from(EXAMPLE_FILES))
    data = copy.deepcopy(EXAMPLE_DATA[rel])
    for _ in range(draw(st.integers(1, 3))):
        path, value = draw(st.sampled_from(list(_leaves(data))))
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        # Mostly a value of the same kind (a date for a date), now and then any value.
        parent[path[-1]] = draw(_hostile_for(value) if draw(st.integers(0, 3)) else HOSTILE)
    return rel, yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10**6)


@pytest.fixture(scope="module")
def example_copy() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp())
    shutil.copytree(EXAMPLE_DEFINITIONS, root / "base")
    yield root / "base"
    shutil.rmtree(root)


@settings(
    max_examples=int(os.environ.get("GUICHET_PROPERTY_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(change=hostile_file())
def test_hostile_values_never_crash(example_copy: Path, change: tuple[Path, str]) -> None:
    """Impossible dates, huge, negative or infinite numbers, empty or very long texts in any
    file: validation returns problems (or a compiled pack), it never raises.
    """
    rel, text = change
    target = example_copy / rel
    original = target.read_text(encoding="utf-8")
    target.write_text(text, encoding="utf-8")
    try:
        result = validate_layers([example_copy])
    finally:
        target.write_text(original, encoding="utf-8")
    assert (result.pack is None) == bool(result.problems)
    for problem in result.problems:
        assert problem.message
        assert problem.line >= 1 or problem.path == (), problem.format()
    if result.pack is not None:  # what passed, the forms can use: every date bound resolves
        _resolve_bounds(result.pack)


def _resolve_bounds(pack: Pack) -> None:
    for procedure in pack.procedures.values():
        fields = [f for step in procedure.steps for f in step.fields]
        for fld in fields + [sub for f in fields for sub in f.fields]:
            for bound in (fld.date_min, fld.date_max):
                for today in (dt.date(2026, 1, 31), dt.date(2999, 12, 31)):
                    if bound is not None:
                        rules.resolve_date_bound(bound, today)
