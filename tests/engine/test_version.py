"""The version hash: stable under reformatting and key order, changed by visible changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from tests.engine.packs import Pack

ORIGINAL = (FIXTURES / "minimal/procedures/acte-naissance.yaml").read_text(encoding="utf-8")
# The same procedure: flow style, other key order, comments, quoted strings, 1 vs 1.0.
REFORMATTED = """\
# Copie d'acte, reformatée
steps:
  - title: "L'acte demandé"
    id: acte
    fields:
      - {label: Nom de naissance, type: text, id: nom, max_length: 80, required: true}
      - {id: naissance, label: 'Date de naissance', max: today, type: date}
      - id: envoi
        choices:
          - courrier
          - guichet
        label: Mode de réception
        type: choice
  - {id: precisions, title: Précisions, fields: [{id: motif, type: textarea, label: Motif,
      visible_if: "envoi == 'guichet'"}]}
keywords: [naissance, acte]
documents: [{type: piece-identite, required: true},
            {type: justificatif-domicile, visible_if: "envoi == 'courrier'"}]
summary: Obtenez une copie de votre acte de naissance.
service: etat-civil
theme: etat-civil
title: Demande d'acte de naissance
"""


@pytest.fixture
def pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pack:
    monkeypatch.chdir(tmp_path)
    return Pack(tmp_path)


def version(pack: Pack) -> str:
    result = pack.validate()
    assert result.problems == []
    assert result.pack is not None
    return result.pack.procedures["acte-naissance"].version


def test_version_is_16_hex_digits(pack: Pack) -> None:
    value = version(pack)
    assert len(value) == 16
    int(value, 16)


def test_reformatting_and_reordering_keep_the_version(pack: Pack) -> None:
    before = version(pack)
    pack.write("procedures/acte-naissance.yaml", REFORMATTED)
    assert version(pack) == before


def test_writing_a_default_explicitly_keeps_the_version(pack: Pack) -> None:
    before = version(pack)
    pack.write(
        "procedures/acte-naissance.yaml",
        ORIGINAL
        + "workflow: default\nappointment: {mode: none}\naccess: {requires_account: false}\n",
    )
    assert version(pack) == before


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        pytest.param("procedures/acte-naissance.yaml", "Nom de naissance", "Nom", id="label"),
        pytest.param("procedures/acte-naissance.yaml", "guichet]", "guichet, mairie]", id="choice"),
        pytest.param(
            "procedures/acte-naissance.yaml", "max_length: 80", "max_length: 81", id="rule"
        ),
        pytest.param(
            "document-types.yaml", "label: Pièce d'identité", "label: Identité", id="doc-type"
        ),
        pytest.param(
            "workflows/default.yaml", "label: Reçue", "label: Bien reçue", id="state-label"
        ),
        pytest.param("workflows/default.yaml", "label: Terminer", "label: Clore", id="transition"),
    ],
)
def test_visible_changes_change_the_version(pack: Pack, file: str, old: str, new: str) -> None:
    before = version(pack)
    path = pack.root / "pack" / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    assert version(pack) != before


def test_an_unused_document_type_does_not_change_the_version(pack: Pack) -> None:
    before = version(pack)
    path = pack.root / "pack/document-types.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "autre: {label: Autre}\n", encoding="utf-8")
    assert version(pack) == before
