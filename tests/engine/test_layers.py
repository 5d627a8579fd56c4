"""Layer discovery and stacking: add, replace, disable, portal override, provenance."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.validate import validate_layers
from tests.conftest import FIXTURES
from tests.engine.packs import Pack


@pytest.fixture
def pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pack:
    monkeypatch.chdir(tmp_path)
    return Pack(tmp_path)


@pytest.fixture
def layered(pack: Pack) -> Pack:
    """The minimal pack plus tests/fixtures/overlay copied as `overlay`."""
    Pack(pack.root, "overlay", "overlay")
    return pack


def test_overlay_adds_replaces_disables_and_overrides(layered: Pack) -> None:
    result = layered.validate("overlay")
    assert result.problems == []
    pack = result.pack
    assert pack is not None
    assert sorted(pack.procedures) == ["acte-naissance", "licence-sport"]
    replaced = pack.procedures["acte-naissance"]
    assert replaced.title == "Copie d'acte de naissance"
    assert replaced.documents == ()  # replaced whole, nothing merged from the base
    assert replaced.source is not None
    assert replaced.source.file == "overlay/procedures/acte-naissance.yaml"
    assert replaced.source.layer == "overlay"
    assert pack.portal.name == "Commune de Surcouche"
    assert pack.portal.colours.primary == "#123456"
    assert pack.portal.colours.secondary == "#e1000f"
    assert pack.portal.contact.email == "mairie@testville.example"  # kept from the base
    assert [t.id for t in pack.portal.themes] == ["sport", "etat-civil"]
    assert pack.themes["etat-civil"].source is not None
    assert pack.themes["etat-civil"].source.layer == "pack"
    assert sorted(pack.services) == ["enfance", "etat-civil", "sport"]
    assert pack.layers == ("pack", "overlay")


def test_provenance_records_every_layer(layered: Pack) -> None:
    provenance = layered.validate("overlay").provenance
    assert provenance[("procedure", "acte-naissance")] == [
        ("pack", "pack/procedures/acte-naissance.yaml", "added"),
        ("overlay", "overlay/procedures/acte-naissance.yaml", "replaced"),
    ]
    assert provenance[("procedure", "inscription-cantine")] == [
        ("pack", "pack/procedures/inscription-cantine.yaml", "added"),
        ("overlay", "overlay/procedures/inscription-cantine.yaml", "disabled"),
    ]
    assert provenance[("theme", "enfance")][-1] == ("overlay", "overlay/portal.yaml", "disabled")
    assert provenance[("portal", "portal")][-1] == ("overlay", "overlay/portal.yaml", "overridden")
    assert provenance[("service", "sport")] == [("overlay", "overlay/services.yaml", "added")]


def test_disabling_a_mapping_entry(layered: Pack) -> None:
    layered.write("../overlay/document-types.yaml", "justificatif-domicile: {disabled: true}\n")
    layered.write(
        "procedures/acte-naissance.yaml",
        (FIXTURES / "minimal/procedures/acte-naissance.yaml")
        .read_text(encoding="utf-8")
        .replace("  - type: justificatif-domicile\n    visible_if: \"envoi == 'courrier'\"\n", ""),
    )
    result = layered.validate("overlay")
    assert result.problems == []
    assert result.pack is not None
    assert list(result.pack.document_types) == ["piece-identite"]


def test_references_to_a_disabled_item_are_errors(layered: Pack) -> None:
    layered.write("../overlay/document-types.yaml", "justificatif-domicile: {disabled: true}\n")
    (layered.root / "overlay/procedures/acte-naissance.yaml").unlink()
    assert [p.format() for p in layered.validate("overlay").problems] == [
        "pack/procedures/acte-naissance.yaml:8:5: error: document type "
        "'justificatif-domicile' is disabled by overlay/document-types.yaml (choose another "
        "document type, or replace or disable this procedure in that layer too)"
    ]


def test_disabling_what_no_earlier_layer_defines(pack: Pack) -> None:
    pack.write("procedures/inconnue.yaml", "disabled: true\n")
    pack.write(
        "services.yaml", "etat-civil: {label: EC}\nenfance: {label: E}\nx: {disabled: true}\n"
    )
    assert pack.problems() == [
        "pack/procedures/inconnue.yaml:1:1: error: cannot disable procedure 'inconnue': "
        "no earlier layer defines it (check the id, or remove this entry)",
        "pack/services.yaml:3:5: error: cannot disable service 'x': "
        "no earlier layer defines it (check the id, or remove this entry)",
    ]


def test_procedure_id_defaults_to_file_name_and_must_be_unique(pack: Pack) -> None:
    text = (FIXTURES / "minimal/procedures/acte-naissance.yaml").read_text(encoding="utf-8")
    pack.write("procedures/autre.yaml", "id: acte-naissance\n" + text)
    assert pack.problems() == [
        "pack/procedures/autre.yaml:1:1: error: procedure id 'acte-naissance' is already used "
        "by pack/procedures/acte-naissance.yaml (ids must be unique: change `id:` or the file "
        "name)"
    ]


def test_id_given_in_file_wins(pack: Pack) -> None:
    text = (FIXTURES / "minimal/procedures/acte-naissance.yaml").read_text(encoding="utf-8")
    pack.write("procedures/autre.yaml", "id: copie-acte\n" + text)
    result = pack.validate()
    assert result.pack is not None
    assert sorted(result.pack.procedures) == ["acte-naissance", "copie-acte", "inscription-cantine"]


def test_stray_files_and_missing_layer(pack: Pack) -> None:
    pack.write("procedures/foo.yml", "title: x\n")
    pack.write("document-type.yaml", "x: {label: y}\n")
    pack.write("notes.txt", "x\n")
    pack.write("news/vide.yaml", "# rien\n")
    assert pack.problems("absent") == [
        "absent: error: layer folder 'absent' does not exist "
        "(give the folder holding portal.yaml and procedures/)",
        "pack/document-type.yaml: error: unexpected file 'pack/document-type.yaml' "
        "(did you mean 'document-types.yaml'?)",
        "pack/news/vide.yaml: error: the file is empty "
        "(remove the file, or write `disabled: true` to remove an item of an earlier layer)",
        "pack/notes.txt: error: unexpected file 'pack/notes.txt' (.yaml expected)",
        "pack/procedures/foo.yml: error: unexpected file 'pack/procedures/foo.yml' "
        "(.yaml expected: rename it to foo.yaml)",
    ]


def test_absolute_layer_outside_the_current_directory(tmp_path: Path) -> None:
    result = validate_layers([FIXTURES / "minimal"], root=None)
    assert result.problems == []
    assert result.pack is not None
    source = result.pack.procedures["acte-naissance"].source
    assert source is not None
    assert source.file.endswith("tests/fixtures/minimal/procedures/acte-naissance.yaml")


def test_a_disabled_item_holds_nothing_else(layered: Pack) -> None:
    text = (FIXTURES / "minimal/procedures/inscription-cantine.yaml").read_text(encoding="utf-8")
    layered.write("../overlay/procedures/inscription-cantine.yaml", text + "disabled: true\n")
    layered.write(
        "../overlay/services.yaml", "sport: {label: Sport}\nenfance: {label: E, disabled: true}\n"
    )
    hint = "to replace the item instead, remove `disabled: true`"
    assert [p.format() for p in layered.validate("overlay").problems] == [
        "overlay/procedures/inscription-cantine.yaml:1:1: error: a disabled item holds only "
        "`disabled: true`; remove 'title', 'theme', 'service' and 5 other keys "
        f"({hint})",
        "overlay/services.yaml:2:11: error: a disabled item holds only `disabled: true`; "
        f"remove 'label' ({hint})",
    ]


def test_a_disabled_theme_keeps_its_id(layered: Pack) -> None:
    # tests/fixtures/overlay/portal.yaml disables a theme with `{id: enfance, disabled: true}`
    assert layered.validate("overlay").problems == []


def test_a_folder_that_is_not_a_layer_is_one_problem(pack: Pack) -> None:
    assert pack.problems("pack/procedures") == [
        "pack/procedures: error: 'pack/procedures' is not a pack layer: it has no portal.yaml, "
        "document-types.yaml, services.yaml, agendas.yaml, procedures/, workflows/ or news/ "
        "(did you mean 'pack'?)",
    ]


def test_a_folder_of_strays_far_from_any_pack(tmp_path: Path, pack: Pack) -> None:
    pack.write("../loin/notes.txt", "x\n")
    assert pack.problems("loin")[-1] == (
        "loin: error: 'loin' is not a pack layer: it has no portal.yaml, document-types.yaml, "
        "services.yaml, agendas.yaml, procedures/, workflows/ or news/ "
        "(give the folder holding portal.yaml and procedures/)"
    )


def test_validating_only_the_procedures_folder_is_one_problem(pack: Pack) -> None:
    problems = validate_layers([Path("pack/procedures")]).problems
    assert [p.format() for p in problems] == [
        "pack/procedures: error: 'pack/procedures' is not a pack layer: it has no portal.yaml, "
        "document-types.yaml, services.yaml, agendas.yaml, procedures/, workflows/ or news/ "
        "(did you mean 'pack'?)",
    ]


def test_a_missing_layer_adds_no_follow_on_problem(pack: Pack) -> None:
    # alone, it could have held portal.yaml: no "no portal.yaml in any layer" on top
    assert [p.format() for p in validate_layers([Path("absent")]).problems] == [
        "absent: error: layer folder 'absent' does not exist "
        "(give the folder holding portal.yaml and procedures/)"
    ]
