"""docs/definitions.md stays true: every key of every schema is documented there."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.schema import KINDS, combined_schema, schema_for

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
