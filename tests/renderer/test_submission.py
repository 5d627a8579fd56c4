"""Submission: validation stamps, the stored snapshot, the draft gone with the request."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from engine import rules
from engine.model import Choice, DocumentRequirement, DocumentType, Field, Portal, Procedure, Step
from engine.snapshot import procedure_from_snapshot, version_of
from engine.validate import load_pack
from renderer import forms, mail, stamps, submission
from renderer import wizard_state as ws
from storage.requests import get_by_token
from tests.renderer import journey
from tests.renderer.conftest import EXAMPLE_PACK, FIXED_NOW, RENDERER_PACK, run_in_app

TODAY = FIXED_NOW.date()
APPLICANT = {
    "civilite": "Madame",
    "nom": "Dupont",
    "prenom": "Marie",
    "naissance": "",
    "adresse": {"street": "3 rue de la Loire", "postal_code": "45000", "city": "Belval"},
    "courriel": "marie.dupont@example.org",
    "telephone": "",
}
BASE = "/demarches/livraison/etapes/"
# Step "details" reads "livraison" of step "choix": its required address shows only when the
# act is sent by post, and its date may not be before the day of the validation.
LIVRAISON = """\
title: Demande de livraison
theme: famille
service: enfance
summary: Une démarche en deux étapes dont la seconde dépend de la première.
steps:
  - id: choix
    title: Le mode de retrait
    fields:
      - id: livraison
        type: choice
        label: Mode de retrait
        required: true
        choices: [Sur place, Par courrier]
  - id: details
    title: Les détails
    fields:
      - id: adresse_livraison
        type: text
        label: Adresse de livraison
        required: true
        visible_if: "livraison == 'Par courrier'"
      - {id: date_souhaitee, type: date, label: Date souhaitée, required: true, min: today}
"""


@pytest.fixture
def livraison(client_factory: Any, tmp_path: Path) -> Any:
    pack = tmp_path / "pack"
    shutil.copytree(RENDERER_PACK, pack)
    (pack / "procedures" / "livraison.yaml").write_text(LIVRAISON, encoding="utf-8")
    return client_factory(pack)


def _proc(client: Any) -> Any:
    return client.app.state.pack.procedures["livraison"]


def _draft(client: Any, procedure_id: str = "livraison") -> dict[str, Any]:
    """The one stored draft of ``procedure_id``."""
    rows = run_in_app(client, _all_drafts, client.app.state.db)
    found = [r for r in rows if r["procedure_id"] == procedure_id]
    assert len(found) == 1
    return json.loads(found[0]["data"])


async def _all_drafts(db: Any) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from storage.tables import drafts as table

    return [dict(r) for r in await db.fetch_all(sa.select(table))]


def test_every_procedure_carries_the_snapshot_of_its_version() -> None:
    pack = load_pack([EXAMPLE_PACK])
    assert pack.procedures
    for proc in pack.procedures.values():
        assert version_of(proc.snapshot) == proc.version, proc.id
        assert procedure_from_snapshot(proc.snapshot) == proc


def test_submission_stores_the_snapshot_and_deletes_the_draft(livraison: Any) -> None:
    proc = _proc(livraison)
    token = journey.submitted(livraison, proc, TODAY)
    tracked = run_in_app(livraison, get_by_token, livraison.app.state.db, token)
    assert tracked.snapshot == json.loads(json.dumps(proc.snapshot))
    assert tracked.data == {"livraison": "Sur place", "date_souhaitee": TODAY.isoformat()}
    assert run_in_app(livraison, _all_drafts, livraison.app.state.db) == []


def test_each_validated_step_records_its_stamp(livraison: Any) -> None:
    journey.fill_draft(livraison, _proc(livraison), TODAY)
    recorded = _draft(livraison)["stamps"]
    assert sorted(recorded) == ["demande-choix", "demande-details", "informations"]
    assert all(len(value) == 32 for value in recorded.values())


def test_an_earlier_answer_that_shows_a_required_field_is_caught(livraison: Any) -> None:
    proc = _proc(livraison)
    journey.fill_draft(livraison, proc, TODAY)  # "Sur place": no address asked
    # Back to the first step: the address of step "details" is now required, but every step
    # is still marked done, so the récapitulatif can be posted straight away.
    response = journey.post(livraison, BASE + "demande-choix", [("livraison", "Par courrier")])
    assert response.headers["location"] == BASE + "demande-details"
    response = journey.submit(livraison, proc)
    assert response.status_code == 303
    assert response.headers["location"] == BASE + "demande-details?verifier=1"
    page = livraison.get(response.headers["location"])
    assert journey.errors_in(page.text) == [("adresse_livraison", "Ce champ est obligatoire.")]
    assert journey.outbox_mails(livraison) == []
    # The step is no longer done: the récapitulatif sends the citizen back to it.
    again = livraison.get(BASE + ws.SUMMARY, follow_redirects=False)
    assert again.headers["location"] == BASE + "demande-details"


def test_a_draft_validated_on_another_day_is_validated_again(livraison: Any) -> None:
    proc = _proc(livraison)
    journey.fill_draft(livraison, proc, TODAY)  # date_souhaitee: today, its minimum
    livraison.app.state.now.now = FIXED_NOW + dt.timedelta(hours=20)  # the next day, 06:00
    response = journey.submit(livraison, proc)
    assert response.headers["location"] == BASE + "demande-details?verifier=1"
    page = unescape(livraison.get(response.headers["location"]).text)
    assert journey.errors_in(page) == [
        ("date_souhaitee", "La date doit être le 02/06/2026 ou après.")
    ]
    assert journey.outbox_mails(livraison) == []


# --- which steps are validated again (``submission.invalid_step``) ---------------------------


def _stamped(proc: Any, values: dict[str, Any], applicant: dict[str, Any]) -> dict[str, Any]:
    """A draft whose steps all validated on TODAY with these values."""
    draft = {**ws.empty_draft(), "applicant": applicant, "values": values}
    stamps.record(
        draft,
        ws.APPLICANT,
        stamps.stamp(proc, ws.APPLICANT, forms.APPLICANT_STEP, applicant, values, TODAY),
    )
    for step in proc.steps:
        key = ws.REQUEST_PREFIX + step.id
        stamps.record(draft, key, stamps.stamp(proc, key, step, values, values, TODAY))
    return draft


@pytest.fixture
def stamped() -> tuple[Any, dict[str, Any]]:
    pack = load_pack([RENDERER_PACK])
    proc = pack.procedures["cantine"]
    # Not valid (the name is required) but stamped as if it were: only a stamp that no
    # longer matches makes the step be parsed again, which the assertions below rely on.
    values = {"nom": ""}
    applicant = dict(APPLICANT, adresse={"street": "1 rue", "postal_code": "45000", "city": ""})
    return proc, _stamped(proc, values, applicant)


def _invalid(proc: Any, draft: dict[str, Any], today: dt.date = TODAY) -> str | None:
    shown = rules.visibility(proc, draft["values"])
    return submission.invalid_step(proc, draft, shown, today)


def test_steps_whose_stamp_matches_are_not_parsed_again(stamped: Any) -> None:
    proc, draft = stamped
    assert _invalid(proc, draft) is None


def test_another_version_or_day_validates_every_step_again(stamped: Any) -> None:
    proc, draft = stamped
    changed = dataclasses.replace(proc, version="another-version")
    assert _invalid(changed, draft) == ws.APPLICANT  # the address has no city
    assert _invalid(proc, draft, TODAY + dt.timedelta(days=1)) == ws.APPLICANT
    draft["applicant"]["adresse"]["city"] = "Belval"
    assert _invalid(changed, draft) == "demande-enfant"
    assert _invalid(proc, draft, TODAY + dt.timedelta(days=1)) == "demande-enfant"


def test_a_step_whose_own_values_changed_is_validated_again(stamped: Any) -> None:
    proc, draft = stamped
    draft["values"] = {}
    assert _invalid(proc, draft) == "demande-enfant"
    draft["stamps"] = {}
    draft["values"] = {"nom": "Dupont"}
    draft["applicant"]["adresse"]["city"] = "Belval"
    assert _invalid(proc, draft) is None  # never stamped: parsed, and valid


def test_a_step_is_validated_again_when_a_value_it_depends_on_changed(
    livraison: Any,
) -> None:
    proc = _proc(livraison)
    values = {"livraison": "Sur place", "date_souhaitee": TODAY.isoformat()}
    draft = _stamped(proc, values, dict(APPLICANT))
    assert _invalid(proc, draft) is None
    # "livraison" changed as if stored by step "choix" alone: step "details" reads it.
    draft["values"] = {**values, "livraison": "Par courrier"}
    key = ws.REQUEST_PREFIX + "choix"
    step = proc.steps[0]
    stamps.record(
        draft, key, stamps.stamp(proc, key, step, draft["values"], draft["values"], TODAY)
    )
    assert _invalid(proc, draft) == "demande-details"


# --- the acknowledgement's récapitulatif -----------------------------------------------------


def test_the_acknowledgement_lists_every_answer_escaped_in_html() -> None:
    proc = Procedure(
        id="p",
        title="Démarche",
        theme="t",
        service="s",
        documents=(DocumentRequirement(DocumentType("rib", "RIB")),),
        steps=(
            Step(
                "vous",
                "Vous & nous",
                fields=(
                    Field("regime", "choice", label="Régime", choices=(Choice("pai", "PAI"),)),
                    Field(
                        "enfants",
                        "group",
                        label="Enfants",
                        fields=(
                            Field("prenom", "text", label="Prénom"),
                            Field("age", "number", label="Âge"),
                        ),
                    ),
                ),
            ),
        ),
    )
    rows = [{"prenom": "<Léa>", "age": 4}, {"prenom": "Tom", "age": 2.5}]
    shown = rules.visibility(proc, {"regime": "pai", "enfants": rows})
    documents = [{"type": "rib", "files": [{"filename": "a.pdf"}, {"filename": "b&c.pdf"}]}]
    composed = mail.compose_ack(
        portal=Portal(name="Mairie de Test"),
        proc=proc,
        applicant={"prenom": "Marie", "nom": "Dupont", "courriel": "m@example.org"},
        shown=shown,
        documents=documents,
        appointment=None,
        reference="DEM-2026-000001",
        token="jeton",
        base_url="https://mairie.example",
    )
    assert (
        "--- Récapitulatif ---\n\nVous & nous\n- Régime : PAI\n- Enfants :\n"
        "  1. Prénom : <Léa> ; Âge : 4\n  2. Prénom : Tom ; Âge : 2,5\n"
        "\nPièces justificatives\n- RIB : a.pdf, b&c.pdf\n\n--\nMairie de Test\n"
    ) in composed.text
    assert (
        '<h2 style="font-size: 1.1em;">Récapitulatif</h2>\n'
        '<h3 style="font-size: 1em;">Vous &amp; nous</h3>\n<ul>\n'
        "  <li>Régime : PAI</li>\n"
        "  <li>Enfants :\n    <ol><li>Prénom : &lt;Léa&gt; ; Âge : 4</li>"
        "<li>Prénom : Tom ; Âge : 2,5</li></ol>\n  </li>\n</ul>\n"
        '<h3 style="font-size: 1em;">Pièces justificatives</h3>\n'
        "<ul><li>RIB : a.pdf, b&amp;c.pdf</li></ul>\n"
        '<p style="color: #555;">Mairie de Test'
    ) in composed.html


@pytest.mark.parametrize(
    ("applicant", "appointment"),
    [
        ({"prenom": "Marie", "nom": "Dupont"}, None),
        ({"prenom": '<b>Zoé</b> & "Léa"', "nom": "O'Brien"}, None),
        ({"nom": "Sans-Prénom"}, {"agenda": "accueil", "slot": None}),
        ({"prenom": "Ana", "nom": "Lopez"}, {"agenda": "accueil", "slot": None, "wanted": True}),
    ],
)
def test_the_acknowledgement_frame_is_the_template_byte_for_byte(
    applicant: dict[str, str], appointment: dict[str, Any] | None
) -> None:
    # compose_ack fills a frame rendered once per procedure version; it must give exactly
    # what rendering templates/mail/ack.* with the same context gives, escaping included.
    pack = load_pack([EXAMPLE_PACK])
    proc = pack.procedures["acte-naissance"]
    values = {"qualite": "Parent", "nom": "<Dupont>", "prenom": "Léa & Tom"}
    shown = rules.visibility(proc, values)
    documents = [{"type": "piece-identite", "files": [{"filename": "cni<1>.pdf"}]}]
    reference, token, base = "DEM-2026-000042", "a-b_c", "https://mairie.example/?x=1&y=2"
    for _ in range(2):  # the first call renders the frame, the second fills the cached one
        composed = mail.compose_ack(
            portal=pack.portal,
            proc=proc,
            applicant={**applicant, "courriel": "m@example.org"},
            shown=shown,
            documents=documents,
            appointment=appointment,
            reference=reference,
            token=token,
            base_url=base,
        )
        sections = mail.summary.sections(shown)
        rows = mail.summary.document_rows(proc, documents)
        expected = mail._render(
            "ack",
            {
                "portal": pack.portal,
                "proc": proc,
                "your_request": mail.your_request(proc.title),
                "reference": reference,
                "applicant": applicant,
                "recap_text": mail.recap_text(sections, rows),
                "recap_html": mail.recap_html(sections, rows),
                "appointment_line": mail.summary.appointment_line(appointment),
                "link": mail.tracking_url(base, token),
            },
        )
        assert (composed.text, composed.html) == expected


def test_the_acknowledgement_is_rendered_whole_when_a_frame_cannot_be_cut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pack = load_pack([EXAMPLE_PACK])
    proc = pack.procedures["acte-naissance"]
    shown = rules.visibility(proc, {"qualite": "Parent"})
    kwargs: dict[str, Any] = {
        "portal": pack.portal,
        "proc": proc,
        "applicant": {"prenom": "<Zoé>", "nom": "Dupont", "courriel": "z@example.org"},
        "shown": shown,
        "documents": [],
        "appointment": None,
        "reference": "DEM-2026-000007",
        "token": "t",
        "base_url": "https://mairie.example",
    }
    framed = mail.compose_ack(**kwargs)
    monkeypatch.setattr(mail._ACK_FRAMES, "fill", lambda *args: None)
    whole = mail.compose_ack(**kwargs)
    assert (whole.text, whole.html) == (framed.text, framed.html)
