"""The récapitulatif: shown documents only, "Modifier" comes back to it, the confirmation
link (reloadable, in the submitting browser session only)."""

from __future__ import annotations

from typing import Any

import pytest

from renderer import wizard_state as ws
from tests.renderer import journey
from tests.renderer.conftest import EXAMPLE_PACK, FIXED_NOW

TODAY = FIXED_NOW.date()
RETURN = f"?retour={ws.SUMMARY}"


@pytest.fixture
def example(client_factory: Any) -> Any:
    return client_factory(EXAMPLE_PACK)


def _with_answer(proc: Any, step_id: str, field_id: str, values: list[str]) -> list[Any]:
    pairs = [p for p in journey.step_pairs(proc, step_id, TODAY) if p[0] != field_id]
    return pairs + [(field_id, v) for v in values]


def test_files_of_a_document_hidden_since_are_not_listed(example: Any) -> None:
    proc = example.app.state.pack.procedures["acte-naissance"]
    summary_url = journey.fill_draft(example, proc, TODAY)
    base = f"/demarches/{proc.id}/etapes/"
    # As a parent, the livret de famille is asked for: attach it.
    journey.post(example, base + "demande-acte", _with_answer(proc, "acte", "qualite", ["Parent"]))
    assert journey.upload_all(example, proc, base + ws.DOCUMENTS).status_code == 303
    assert "piece-livret-famille.pdf" in example.get(summary_url).text
    # No longer a parent: the livret is hidden, its file is not submitted nor listed.
    first = proc.steps[0].fields[0].choices[0].value
    response = journey.post(
        example, base + "demande-acte" + RETURN, _with_answer(proc, "acte", "qualite", [first])
    )
    assert response.headers["location"] == summary_url
    page = example.get(summary_url).text
    assert "piece-livret-famille.pdf" not in page
    assert "piece-piece-identite.pdf" in page


def test_modifier_comes_back_to_the_recapitulatif(example: Any) -> None:
    proc = example.app.state.pack.procedures["inscription-periscolaire"]
    summary_url = journey.fill_draft(example, proc, TODAY)
    page = example.get(summary_url).text
    assert f'href="/demarches/{proc.id}/etapes/demande-accueils{RETURN}"' in page
    url = f"/demarches/{proc.id}/etapes/demande-accueils{RETURN}"
    assert f'action="{url}"' in example.get(url).text
    response = journey.post(example, url, journey.step_pairs(proc, "accueils", TODAY))
    assert response.headers["location"] == summary_url
    # Without the link, the next step follows as usual.
    plain = f"/demarches/{proc.id}/etapes/demande-accueils"
    response = journey.post(example, plain, journey.step_pairs(proc, "accueils", TODAY))
    assert response.headers["location"] == f"/demarches/{proc.id}/etapes/demande-contacts"
    # An answer that shows a step not done yet: that step first.
    with_wednesday = _with_answer(proc, "accueils", "accueils", ["matin", "mercredi"])
    response = journey.post(example, url, with_wednesday)
    assert response.headers["location"] == f"/demarches/{proc.id}/etapes/demande-mercredi"


def test_modifier_mes_informations_comes_back_too(example: Any) -> None:
    proc = example.app.state.pack.procedures["acte-naissance"]
    summary_url = journey.fill_draft(example, proc, TODAY)
    url = f"/demarches/{proc.id}/etapes/{ws.APPLICANT}{RETURN}"
    applicant = {**journey.APPLICANT, "prenom": "Jeanne"}
    response = journey.post(example, url, list(applicant.items()))
    assert response.headers["location"] == summary_url
    assert "Jeanne" in example.get(summary_url).text


def test_the_confirmation_link_works_only_in_the_browser_session_that_submitted(
    example: Any,
) -> None:
    proc = example.app.state.pack.procedures["acte-naissance"]
    journey.fill_draft(example, proc, TODAY)
    location = journey.submit(example, proc).headers["location"]
    first = example.get(location)
    reference = journey.re.search(r"DEM-2026-\d{6}", first.text)
    assert reference is not None and reference.group(0) in location
    assert "marie.dupont@example.org" in first.text
    # Nothing about the request went into the session cookie.
    assert "DEM-2026" not in str(example.cookies.get("session"))
    # A reload shows it again, also once another procedure has started.
    journey.post(example, "/demarches/signalement/etapes/demarche", [])
    again = example.get(location, follow_redirects=False)
    assert again.status_code == 200 and reference.group(0) in again.text

    def refused(url: str, procedure_id: str = proc.id) -> None:
        response = example.get(url, follow_redirects=False)
        assert response.status_code == 303, url
        assert response.headers["location"] == f"/demarches/{procedure_id}"

    # Another reference (requests are numbered in order), another procedure, no tag.
    refused(location.replace(reference.group(0), "DEM-2026-000999"))
    refused(location.replace(proc.id, "signalement"), "signalement")
    refused(location.split("&")[0])
    refused(f"/demarches/{proc.id}/confirmation")
    # Another browser: the same link leads to the procedure's page.
    example.cookies.clear()
    refused(location)


def test_unanswered_optional_fields_are_left_out_and_plurals_are_french(example: Any) -> None:
    from renderer import summary

    proc = example.app.state.pack.procedures["inscription-periscolaire"]
    step = proc.steps[0]
    row = {"prenom": "Léa", "nom": "Dupont", "naissance": "2019-03-14", "classe": "CP"}
    rows = summary.rows_of(step, {"enfants": [row]})
    assert [(r.label, r.value) for r in rows] == [("Enfants à inscrire", "une ligne")]
    # The optional checkbox left unticked is not listed as "Sans réponse".
    assert [r.label for r in rows[0].rows[0]] == ["Prénom", "Nom", "Date de naissance", "Classe"]
    assert summary.rows_of(step, {"enfants": [row, row]})[0].value == "2 lignes"
