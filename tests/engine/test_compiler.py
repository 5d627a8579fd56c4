"""Compiling a pack into the frozen model, and rebuilding procedures from snapshots."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.compiler import compile_procedure, resolve_procedure
from engine.errors import DefinitionErrors
from engine.layers import Layered, LoadedFile, discover, stack
from engine.model import Choice, Field, Pack
from engine.snapshot import (
    PackParts,
    compile_shared,
    procedure_from_snapshot,
    procedure_snapshot,
    version_of,
)
from engine.validate import load_pack, validate_layers
from engine.yamlsafe import load_yaml
from tests.conftest import FIXTURES

PARIS = ZoneInfo("Europe/Paris")
EXAMPLE = Path(__file__).resolve().parents[2] / "definitions"


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack([FIXTURES / "minimal"])


def test_everything_is_compiled(pack: Pack) -> None:
    assert sorted(pack.procedures) == ["acte-naissance", "inscription-cantine"]
    assert pack.portal.name == "Ville de Testville"
    assert list(pack.themes) == ["etat-civil", "enfance"]
    assert pack.document_types["justificatif-domicile"].max_files == 2
    agenda = pack.agendas["accueil"]
    assert [(h.weekday, h.start, h.end) for h in agenda.opening_hours] == [
        (0, dt.time(9), dt.time(12)),
        (0, dt.time(14), dt.time(17)),
        (2, dt.time(9), dt.time(12)),
    ]
    assert agenda.closed_dates == (dt.date(2026, 12, 25),)
    assert pack.news["fete"].date == dt.date(2026, 6, 21)
    assert pack.news["horaires"].kind == "info"
    assert pack.workflows["default"].state("annulee").final


def test_fields_and_defaults(pack: Pack) -> None:
    proc = pack.procedures["acte-naissance"]
    nom, naissance, envoi = proc.steps[0].fields
    assert nom == Field(
        id="nom", type="text", label="Nom de naissance", required=True, max_length=80
    )
    assert naissance.date_max == "today"
    assert naissance.max is None
    assert envoi.choices == (Choice("courrier", "courrier"), Choice("guichet", "guichet"))
    assert proc.documents[0].type.label == "Pièce d'identité"
    assert proc.documents[1].visible_if == "envoi == 'courrier'"
    assert proc.workflow is not None and proc.workflow.id == "default"
    assert isinstance(proc.steps, tuple) and isinstance(proc.keywords, tuple)


def test_group_and_window(pack: Pack) -> None:
    proc = pack.procedures["inscription-cantine"]
    group = proc.steps[0].fields[0]
    assert (group.type, group.min_items, group.max_items) == ("group", 1, 4)
    assert [f.id for f in group.fields] == ["prenom", "regime", "pai"]
    assert proc.open.start == dt.datetime(2026, 5, 1, tzinfo=PARIS)
    assert proc.open.end == dt.datetime(2026, 7, 15, 23, 59, 59, 999999, tzinfo=PARIS)
    assert proc.quota is not None and proc.quota.message.startswith("Le nombre maximum")
    assert proc.appointment.agenda == "accueil"


def test_snapshot_round_trip_through_json() -> None:
    result = validate_layers([FIXTURES / "minimal"])
    assert result.pack is not None
    for proc in result.pack.procedures.values():
        # what storage keeps: the snapshot as JSON
        layered_item_snapshot = json.loads(json.dumps(_snapshot(proc.id)))
        rebuilt = procedure_from_snapshot(layered_item_snapshot)
        assert rebuilt == proc
        assert rebuilt.version == proc.version == version_of(layered_item_snapshot)


def _layered(folder: Path) -> Layered:
    entries, _ = discover(folder)
    loaded = [LoadedFile(e, load_yaml(e.path, e.display)) for e in entries]
    return stack(loaded, [folder.name])


def _snapshot(proc_id: str) -> dict[str, object]:
    layered = _layered(FIXTURES / "minimal")
    item = layered.of("procedure")[proc_id]
    assert compile_procedure(item, layered).version == version_of(
        procedure_snapshot(resolve_procedure(item, layered))
    )
    return procedure_snapshot(resolve_procedure(item, layered))


# The first is an ordinary title; the others are the stand-ins the compiler serialises in
# place of the shared workflow and document types, so that it must not splice there.
@pytest.mark.parametrize(
    "title", ["Acte", "\x00shared workflow\x00", "\x00shared document type\x00"]
)
def test_shared_parts_give_the_snapshot_version_and_model(title: str) -> None:
    layered = _layered(EXAMPLE)
    parts = PackParts(
        {i.id: i.data for i in layered.of("workflow").values()},
        {i.id: i.data for i in layered.of("document type").values()},
    )
    assert len(layered.of("procedure")) >= 12
    for item in layered.of("procedure").values():
        item = dataclasses.replace(item, data={**item.data, "title": title})
        compiled = compile_shared({**item.data, "id": item.id}, parts, item.source)
        stored = json.loads(json.dumps(procedure_snapshot(resolve_procedure(item, layered))))
        assert compiled.version == version_of(stored)
        assert compiled == procedure_from_snapshot(stored)
        assert compiled == compile_procedure(item, layered)


def test_procedures_share_one_workflow_object() -> None:
    result = validate_layers([EXAMPLE])
    assert result.pack is not None
    workflows = {id(p.workflow) for p in result.pack.procedures.values()}
    assert len(workflows) == len({p.workflow.id for p in result.pack.procedures.values()})
    # the pack's own workflow carries its source; the one procedures embed is the same value
    proc = result.pack.procedures["acte-naissance"]
    assert proc.workflow == result.pack.workflows["default"]
    assert result.pack.workflows["default"].source is not None


def test_load_pack_raises_definition_errors(tmp_path: Path) -> None:
    with pytest.raises(DefinitionErrors, match=r"error: layer folder '.*absent' does not exist"):
        load_pack([tmp_path / "absent"])
