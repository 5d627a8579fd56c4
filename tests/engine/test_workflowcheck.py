"""Workflow cross-checks: cancellation rules, and the parts checked when the schema fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.packs import Pack

WORKFLOW = "pack/workflows/default.yaml"


@pytest.fixture
def pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pack:
    monkeypatch.chdir(tmp_path)
    return Pack(tmp_path)


def test_citizen_cannot_cancel_in_a_final_state(pack: Pack) -> None:
    pack.write(
        "workflows/default.yaml",
        """
        label: Circuit
        initial: recue
        cancel_to: annulee
        states:
          recue: {label: Reçue, citizen_can_cancel: true}
          terminee: {label: Traitée, final: true, citizen_can_cancel: true}
          annulee: {label: Annulée, final: true}
        transitions:
          - {id: terminer, label: Terminer, from: recue, to: terminee}
        """,
    )
    assert pack.problems() == [
        f"{WORKFLOW}:6:43: error: state 'terminee' is final: the citizen cannot cancel a "
        "closed request (remove `citizen_can_cancel: true` from it)",
    ]


def test_cancel_to_needs_no_transition(pack: Pack) -> None:
    # "Annuler ma demande" leads to cancel_to by itself: no `by: [citizen]` transition needed.
    pack.write(
        "workflows/default.yaml",
        """
        label: Circuit
        initial: recue
        cancel_to: annulee
        states:
          recue: {label: Reçue, citizen_can_cancel: true}
          terminee: {label: Traitée, final: true}
          annulee: {label: Annulée, final: true}
        transitions:
          - {id: terminer, label: Terminer, from: recue, to: terminee}
        """,
    )
    assert pack.problems() == []


def test_references_are_checked_in_a_workflow_with_schema_problems(pack: Pack) -> None:
    pack.write(
        "workflows/default.yaml",
        """
        label: Circuit
        initial: recu
        states:
          recue: {label: Reçue}
          terminee: {label: Traitée, final: true, couleur: vert}
          isolee: {label: Isolée}
        transitions:
          - {id: terminer, label: Terminer, from: recue, to: termine}
          - {id: casse, label: Cassée, from: recue}
        """,
    )
    # the unknown states are reported with the schema problems; reachability waits for the
    # transitions to be well-formed (the broken one might be what reaches 'isolee')
    assert pack.problems() == [
        f"{WORKFLOW}:2:1: error: unknown state 'recu' (did you mean 'recue'?)",
        f"{WORKFLOW}:5:43: error: unknown key 'couleur' in state 'terminee'",
        f"{WORKFLOW}:8:50: error: unknown state 'termine' (did you mean 'terminee'?)",
        f"{WORKFLOW}:9:5: error: missing required key 'to' in transition 'casse'",
    ]
