"""docs/definitions.md stays true: every schema key documented, samples and icon list real."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.icons import ICON_NAMES
from engine.schema import KINDS, combined_schema, schema_for
from engine.validate import validate_layers

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "definitions.md"


def property_names(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(key, where it is declared) for every property of every (sub)schema, $defs included."""
    if isinstance(node, dict):
        for name in node.get("properties", {}) if isinstance(node.get("properties"), dict) else ():
            yield name, f"{where}.{name}" if where else name
        for key, value in node.items():
            child = f"{where}/{key}" if where else key
            yield from property_names(value, child)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from property_names(value, f"{where}[{index}]")


def documented_keys() -> set[str]:
    return set(re.findall(r"`([a-z_]+)`", GUIDE.read_text(encoding="utf-8")))


def test_walker_finds_nested_keys() -> None:
    names = {name for name, _ in property_names(combined_schema())}
    # a sample from every depth: top level, sub-mapping, list item, $defs, group sub-field
    assert {
        "title",
        "requires_account",
        "citizen_can_cancel",
        "pattern_message",
        "add_label",
    } <= names
    assert {"monday", "sunday", "storage_pieces", "subject", "value"} <= names


def test_every_schema_key_is_documented() -> None:
    documented = documented_keys()
    missing = sorted(
        {
            f"{name} ({where})"
            for kind in KINDS
            for name, where in property_names(schema_for(kind))
            if name not in documented
        }
    )
    assert not missing, "keys missing from docs/definitions.md:\n" + "\n".join(missing)


def test_every_kind_and_field_type_is_documented() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    for kind in KINDS:
        assert f"`{kind}`" in guide, kind
    field = schema_for("procedure")["$defs"]["field"]["properties"]["type"]["enum"]
    for field_type in field:
        assert f"type: {field_type}" in guide, field_type


README = GUIDE.parent.parent / "README.md"
DEFINITIONS = GUIDE.parent.parent / "definitions"


def sample_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"definitions/\S+:\d+:\d+: error", line)]


def test_the_sample_errors_are_the_same_in_the_readme_and_the_guide_and_true(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    guide = sample_lines(GUIDE.read_text(encoding="utf-8"))
    readme = sample_lines(README.read_text(encoding="utf-8"))
    assert guide == readme
    assert len(guide) == 2
    # Build the sample: a typo in the field `nom`, a state no transition reaches.
    shutil.copytree(DEFINITIONS, tmp_path / "definitions")
    proc = tmp_path / "definitions/procedures/acte-naissance.yaml"
    lines = proc.read_text(encoding="utf-8").splitlines(keepends=True)
    assert "{id: nom," in lines[53]
    lines[53] = lines[53].replace("required: true", "requierd: true")
    proc.write_text("".join(lines), encoding="utf-8")
    workflow = tmp_path / "definitions/workflows/default.yaml"
    text = workflow.read_text(encoding="utf-8")
    workflow.write_text(text.replace("  annulee:\n", "  isolee: {label: Isolée}\n  annulee:\n"))
    monkeypatch.chdir(tmp_path)
    assert [p.format() for p in validate_layers([Path("definitions")]).problems] == guide


def test_the_icon_list_of_the_guide_is_the_engine_list() -> None:
    row = next(
        line for line in GUIDE.read_text(encoding="utf-8").splitlines() if "| `icon` |" in line
    )
    listed = re.findall(r"`([a-z-]+)`", row.split("one of the portal's icons:")[1].split(";")[0])
    assert listed == list(ICON_NAMES)
