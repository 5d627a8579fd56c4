"""Random mutations of valid procedures never crash the validator.

Every mutated pack either validates or yields problems that each name a file and a line
(line 0 only for a problem about the whole file, which has no key path).
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.validate import validate_layers
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
