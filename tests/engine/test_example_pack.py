"""The example commune shipped in definitions/ validates and shows every feature."""

from __future__ import annotations

from pathlib import Path

from engine.validate import validate_layers


def test_example_definitions_validate(example_definitions: Path) -> None:
    result = validate_layers([example_definitions])
    assert [p.format() for p in result.problems] == []
    assert result.pack is not None
    assert result.counts["procedures"] >= 12
    assert result.counts["themes"] >= 5
    assert result.counts["agendas"] == 2
    assert result.counts["news"] == 6
    assert result.counts["info"] == 4
    procedures = result.pack.procedures.values()
    assert any(p.access.requires_account for p in procedures)
    assert {p.appointment.mode for p in procedures} >= {"none", "optional", "required"}
    assert any(p.quota for p in procedures)
    assert any(p.open.start for p in procedures)
    assert len(result.pack.workflows) >= 2
    assert len({p.version for p in procedures}) == len(result.pack.procedures)
