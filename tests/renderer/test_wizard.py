"""The wizard over HTTP against the app: steps, drafts, conditions, groups, submission."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from renderer import wizard_state as ws
from storage import drafts
from storage.requests import QuotaClaim, claim_quota, get_by_token
from tests.renderer import journey
from tests.renderer.conftest import EXAMPLE_PACK, FIXED_NOW, csrf_token_of, run_in_app

TODAY = FIXED_NOW.date()
JOURNEYS = [
    pytest.param("inscription-periscolaire", id="group"),
    pytest.param("inscription-cantine", id="conditions"),
    pytest.param("acte-naissance", id="documents"),
    pytest.param("recensement-citoyen", id="appointment"),
]


@pytest.fixture
def example(client_factory: Any) -> Any:
    return client_factory(EXAMPLE_PACK)


def proc_of(client: Any, procedure_id: str) -> Any:
    return client.app.state.pack.procedures[procedure_id]


async def _request_by_token(db: Any, token: str) -> Any:
    return await get_by_token(db, token)


@pytest.mark.parametrize("procedure_id", JOURNEYS)
def test_whole_journey_on_both_databases(
    client_factory: Any, db_url: str, procedure_id: str
) -> None:
    client = client_factory(EXAMPLE_PACK, db_url=db_url)
    proc = proc_of(client, procedure_id)
    summary_url = journey.fill_draft(client, proc, TODAY)
    page = client.get(summary_url)
    assert page.status_code == 200
    assert "Le récapitulatif" in page.text
    assert page.text.count(">Modifier<") >= 2
    assert 'aria-current="step"' in page.text

    response = journey.submit(client, proc)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(f"/demarches/{procedure_id}/confirmation?ref=DEM-2026-")
    confirmation = unescape(client.get(location).text)
    assert "Votre demande a bien été prise en compte" in confirmation
    reference = re.search(r"DEM-2026-\d{6}", confirmation)
    assert reference is not None
    assert (
        "Un courriel d'accusé de réception vous a été adressé à "
        "<strong>marie.dupont@example.org</strong>" in confirmation
    )
    # A reload shows the confirmation again (tests/renderer/test_recap.py).
    again = client.get(location, follow_redirects=False)
    assert again.status_code == 200 and reference.group(0) in again.text

    mail = journey.outbox_mails(client)[-1]
    assert mail["to_addr"] == "marie.dupont@example.org"
    assert mail["subject"] == f"Accusé de réception de votre demande {reference.group(0)}"
    token = journey.tracking_token(mail["text_body"])
    tracked = run_in_app(client, _request_by_token, client.app.state.db, token)
    assert tracked.reference == reference.group(0)
    assert tracked.version == proc.version
    assert tracked.applicant["courriel"] == "marie.dupont@example.org"
    assert tracked.state == proc.workflow.initial
    assert (tracked.appointment is not None) == (proc.appointment.mode != "none")
    assert len(tracked.pieces) == len([d for d in proc.documents if d.visible_if is None]) or (
        tracked.pieces
    )
    # The draft is gone: the wizard starts again from the beginning.
    restart = client.get(summary_url, follow_redirects=False)
    assert restart.headers["location"] == f"/demarches/{procedure_id}/etapes/demarche"


def test_progress_indicator_and_step_titles(example: Any) -> None:
    proc = proc_of(example, "inscription-cantine")
    page = example.get("/demarches/inscription-cantine/etapes/demarche").text
    labels = re.findall(r'<span class="step-label">([^<]+)</span>', page)
    assert labels == [
        "La démarche",
        "Mes informations",
        "Ma demande",
        "Pièces justificatives",
        "Le récapitulatif",
    ]
    assert re.search(r'<li class="is-current" aria-current="step">\s*<span[^>]*>1<', page)
    journey.post(example, "/demarches/inscription-cantine/etapes/demarche", [])
    journey.post(
        example,
        "/demarches/inscription-cantine/etapes/informations",
        list(journey.APPLICANT.items()),
    )
    step = example.get("/demarches/inscription-cantine/etapes/demande-enfant").text
    assert "<h1>Ma demande — Votre enfant</h1>" in step
    assert "Les champs marqués d'un astérisque" in unescape(step)
    assert proc.steps[0].title == "Votre enfant"


def test_appointment_step_only_with_an_appointment(example: Any) -> None:
    page = example.get("/demarches/recensement-citoyen/etapes/demarche").text
    assert "Mon rendez-vous" in page
    assert "Mon rendez-vous" not in example.get("/demarches/acte-naissance/etapes/demarche").text
    journey.post(example, "/demarches/recensement-citoyen/etapes/demarche", [])
    step = unescape(example.get("/demarches/recensement-citoyen/etapes/rendez-vous").text)
    assert "La réservation d'un créneau en ligne sera bientôt disponible" in step
    assert "<legend>Souhaitez-vous un rendez-vous ? " in step
    assert 'value="oui" required>' in step and 'value="non" required>' in step
    assert "Oui, je souhaite prendre rendez-vous" in step
    assert "Non, je ne souhaite pas de rendez-vous" in step
    # The question is required: no answer, no next step.
    missing = journey.post(example, "/demarches/recensement-citoyen/etapes/rendez-vous", [])
    assert missing.status_code == 200
    assert journey.errors_in(missing.text) == [
        ("souhaite-rendez-vous", "Indiquez si vous souhaitez un rendez-vous.")
    ]
    assert "<title>Erreur : " in missing.text
    response = journey.post(
        example,
        "/demarches/recensement-citoyen/etapes/rendez-vous",
        [("souhaite-rendez-vous", "non")],
    )
    assert response.headers["location"] == "/demarches/recensement-citoyen/etapes/informations"
    stored = _only_draft(example, "recensement-citoyen")["appointment"]
    assert stored == {"agenda": "accueil-etat-civil", "slot": None, "wanted": False}
    again = example.get("/demarches/recensement-citoyen/etapes/rendez-vous").text
    assert 'value="non" required checked>' in again


@pytest.mark.parametrize(
    ("answer", "line"),
    [
        ("non", "Pas de rendez-vous"),
        ("oui", "Rendez-vous : souhaité — la mairie vous proposera un créneau"),
    ],
)
def test_optional_appointment_answer_is_shown_everywhere(
    example: Any, answer: str, line: str
) -> None:
    proc = proc_of(example, "recensement-citoyen")
    summary_url = journey.fill_draft(example, proc, TODAY)
    journey.post(
        example,
        "/demarches/recensement-citoyen/etapes/rendez-vous?retour=recapitulatif",
        [("souhaite-rendez-vous", answer)],
    )
    recap = unescape(example.get(summary_url).text)
    assert f"<dt>Votre choix</dt><dd>{line}</dd>" in recap
    assert "À fixer avec le service" not in recap
    assert journey.submit(example, proc).status_code == 303
    mail = journey.outbox_mails(example)[-1]
    assert f"\n{line}.\n" in mail["text_body"]
    assert f"<p>{line}.</p>" in unescape(mail["html_body"])
    token = journey.tracking_token(mail["text_body"])
    assert f"<p>{line}.</p>" in unescape(example.get(f"/suivi/{token}").text)
    tracked = run_in_app(example, _request_by_token, example.app.state.db, token)
    assert tracked.appointment["wanted"] is (answer == "oui")


def test_required_appointment_keeps_its_note(client_factory: Any, tmp_path: Path) -> None:
    pack = tmp_path / "definitions"
    shutil.copytree(EXAMPLE_PACK, pack)
    yaml = pack / "procedures" / "recensement-citoyen.yaml"
    text = yaml.read_text()
    assert "appointment: {mode: optional," in text
    yaml.write_text(text.replace("appointment: {mode: optional,", "appointment: {mode: required,"))
    client = client_factory(pack)
    proc = proc_of(client, "recensement-citoyen")
    step_url = journey.fill_draft(client, proc, TODAY, until=ws.APPOINTMENT)
    step = unescape(client.get(step_url).text)
    assert "Souhaitez-vous un rendez-vous ?" not in step
    assert "le service vous contactera pour fixer le rendez-vous" in step
    summary_url = journey.fill_draft(client, proc, TODAY)
    recap = unescape(client.get(summary_url).text)
    assert "<dt>Créneau</dt><dd>À fixer avec le service</dd>" in recap
    assert journey.submit(client, proc).status_code == 303
    text = journey.outbox_mails(client)[-1]["text_body"]
    assert "\nRendez-vous : le créneau sera fixé avec le service.\n" in text


def test_values_kept_and_errors_shown(example: Any) -> None:
    journey.post(example, "/demarches/acte-naissance/etapes/demarche", [])
    pairs = [
        ("nom", "Dupont"),
        ("prenom", ""),
        ("courriel", "pas-une-adresse"),
        ("adresse-street", "3 rue de la Loire"),
        ("adresse-postal_code", "4500"),
        ("adresse-city", "Belval"),
        ("telephone", "06 12 34 56 78"),
    ]
    response = journey.post(example, "/demarches/acte-naissance/etapes/informations", pairs)
    assert response.status_code == 200
    html = response.text
    assert "<title>Erreur : " in html
    assert 'role="alert"' in html and 'id="resume-erreurs"' in html
    assert "Le formulaire contient 3 erreurs" in html
    assert '<a href="#f-prenom">Prénom : Ce champ est obligatoire.</a>' in html
    assert '<a href="#f-courriel">Courriel : Saisissez une adresse électronique valide.</a>' in html
    assert "Saisissez un code postal à 5 chiffres." in html
    assert 'value="Dupont"' in html and 'value="pas-une-adresse"' in html
    assert 'value="4500"' in html and 'value="06 12 34 56 78"' in html
    assert 'aria-describedby="h-courriel e-courriel"' in html and 'aria-invalid="true"' in html
    # Nothing was stored: the next step is still out of reach.
    nxt = example.get("/demarches/acte-naissance/etapes/demande-acte", follow_redirects=False)
    assert nxt.status_code in (303, 404)


async def _draft(db: Any, sid: str, procedure_id: str) -> Any:
    return await drafts.load_draft(db, sid, procedure_id)


def _only_draft(client: Any, procedure_id: str) -> dict[str, Any]:
    import sqlalchemy as sa

    from storage.tables import drafts as table

    async def load(db: Any) -> Any:
        row = await db.fetch_one(sa.select(table).where(table.c.procedure_id == procedure_id))
        return await drafts.load_draft(db, row["session_id"], procedure_id)

    return run_in_app(client, load, client.app.state.db).data  # type: ignore[no-any-return]


def test_hidden_fields_are_not_stored(example: Any) -> None:
    proc = proc_of(example, "inscription-cantine")
    journey.post(example, "/demarches/inscription-cantine/etapes/demarche", [])
    journey.post(
        example,
        "/demarches/inscription-cantine/etapes/informations",
        list(journey.APPLICANT.items()),
    )
    journey.post(
        example,
        "/demarches/inscription-cantine/etapes/demande-enfant",
        journey.step_pairs(proc, "enfant", TODAY),
    )
    url = "/demarches/inscription-cantine/etapes/demande-repas"
    page = example.get(url).text
    assert 'data-visible-if="{&#34;op&#34;:&#34;==&#34;' in page
    # Regime "Standard": the PAI detail is hidden, so neither required nor kept.
    pairs = [("jours", "Lundi"), ("regime", "Standard"), ("pai_detail", "Allergie")]
    response = journey.post(example, url, pairs)
    assert response.status_code == 303
    values = _only_draft(example, "inscription-cantine")["values"]
    assert values["regime"] == "Standard"
    assert "pai_detail" not in values
    # Regime "PAI": the detail is required now.
    response = journey.post(example, url, [("jours", "Lundi"), ("regime", "PAI")])
    assert response.status_code == 200
    assert "Ce champ est obligatoire." in response.text
    response = journey.post(
        example, url, [("jours", "Lundi"), ("regime", "PAI"), ("pai_detail", "X")]
    )
    assert response.status_code == 303
    assert _only_draft(example, "inscription-cantine")["values"]["pai_detail"] == "X"
    # The health record (document shown only for a PAI) is now asked for.
    assert "Carnet de santé" in example.get("/demarches/inscription-cantine/etapes/pieces").text


def test_group_rows_added_and_removed_without_javascript(example: Any) -> None:
    proc = proc_of(example, "inscription-periscolaire")
    journey.post(example, "/demarches/inscription-periscolaire/etapes/demarche", [])
    journey.post(
        example,
        "/demarches/inscription-periscolaire/etapes/informations",
        list(journey.APPLICANT.items()),
    )
    url = "/demarches/inscription-periscolaire/etapes/demande-enfants"
    page = example.get(url).text
    assert 'name="enfants-rows" value="1"' in page
    assert 'name="_add_enfants"' in page and "Ajouter un enfant" in page
    assert 'name="_remove_enfants_0"' not in page  # min 1 row
    first = journey.step_pairs(proc, "enfants", TODAY)
    response = journey.post(example, url, [*first, ("_add_enfants", "1")])
    assert response.status_code == 200
    assert 'name="enfants-rows" value="2"' in response.text
    assert 'name="enfants-1-prenom"' in response.text
    assert 'value="Réponse"' in response.text  # the first row kept its values
    # The empty second row is required, then removed.
    two = [p for p in first if p[0] != "enfants-rows"] + [("enfants-rows", "2")]
    response = journey.post(example, url, two)
    assert "Enfants à inscrire — n° 2 : Prénom : Ce champ est obligatoire." in response.text
    response = journey.post(example, url, [*two, ("_remove_enfants_1", "1")])
    assert 'name="enfants-rows" value="1"' in response.text
    assert journey.post(example, url, first).status_code == 303
    rows = _only_draft(example, "inscription-periscolaire")["values"]["enfants"]
    assert len(rows) == 1 and rows[0]["prenom"] == "Réponse"
    assert "allergies_detail" not in rows[0] or rows[0]["allergies"]


def test_tampered_step_order_redirects_and_stores_nothing(example: Any) -> None:
    proc = proc_of(example, "acte-naissance")
    first = example.get("/demarches/acte-naissance/etapes/demarche")
    token = csrf_token_of(first.text)
    response = example.post(
        "/demarches/acte-naissance/etapes/recapitulatif",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/demarches/acte-naissance/etapes/demarche"
    step = f"/demarches/acte-naissance/etapes/demande-{proc.steps[0].id}"
    pairs = journey.step_pairs(proc, proc.steps[0].id, TODAY)
    response = example.post(step, data={"csrf_token": token, **dict(pairs)}, follow_redirects=False)
    assert response.headers["location"] == "/demarches/acte-naissance/etapes/demarche"
    assert journey.outbox_mails(example) == []
    import sqlalchemy as sa

    from storage.tables import drafts as table
    from storage.tables import requests as requests_table

    async def counts(db: Any) -> tuple[int, int]:
        a = await db.fetch_val(sa.select(sa.func.count()).select_from(requests_table))
        b = await db.fetch_val(sa.select(sa.func.count()).select_from(table))
        return int(a), int(b)

    assert run_in_app(example, counts, example.app.state.db) == (0, 0)


def test_unknown_step_and_procedure_are_404(example: Any) -> None:
    assert example.get("/demarches/acte-naissance/etapes/nimporte").status_code == 404
    assert example.get("/demarches/inconnue/etapes/demarche").status_code == 404
    # A step hidden by the answers does not exist yet.
    assert (
        example.get("/demarches/inscription-periscolaire/etapes/demande-mercredi").status_code
        == 404
    )


@pytest.mark.parametrize(
    ("procedure_id", "now", "message"),
    [
        pytest.param(
            "changement-adresse",
            FIXED_NOW,
            "Cette démarche nécessite un espace personnel.",
            id="locked",
        ),
        pytest.param(
            "inscription-cantine",
            dt.datetime(2026, 8, 1, 10, 0, tzinfo=FIXED_NOW.tzinfo),
            "Cette démarche était ouverte du 1er mai au 15 juillet 2026.",
            id="closed",
        ),
    ],
)
def test_refused_procedures(client_factory: Any, procedure_id: str, now: Any, message: str) -> None:
    client = client_factory(EXAMPLE_PACK, now=now)
    for step in ("demarche", "informations", "recapitulatif"):
        response = client.get(f"/demarches/{procedure_id}/etapes/{step}")
        assert response.status_code == 403
        assert message in unescape(response.text)
    procedure_page = unescape(client.get(f"/demarches/{procedure_id}").text)
    assert message.rstrip(".") in procedure_page


def test_full_quota_refuses_to_start(example: Any) -> None:
    proc = proc_of(example, "reservation-salle")
    claim = QuotaClaim("2026-06", "portal", proc.quota.max)

    async def fill(db: Any) -> None:
        for _ in range(proc.quota.max):
            async with db.transaction():
                await claim_quota(db, proc.id, claim)

    run_in_app(example, fill, example.app.state.db)
    response = example.get("/demarches/reservation-salle/etapes/demarche")
    assert response.status_code == 403
    assert proc.quota.message in unescape(response.text)


def test_quota_reached_at_submission_keeps_the_draft(example: Any) -> None:
    proc = proc_of(example, "reservation-salle")
    summary_url = journey.fill_draft(example, proc, TODAY)
    claim = QuotaClaim("2026-06", "portal", proc.quota.max)
    token = csrf_token_of(example.get(summary_url).text)

    async def fill(db: Any) -> None:
        for _ in range(proc.quota.max):
            async with db.transaction():
                await claim_quota(db, proc.id, claim)

    run_in_app(example, fill, example.app.state.db)
    response = example.post(summary_url, data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 403
    assert proc.quota.message in unescape(response.text)
    assert _only_draft(example, "reservation-salle")["applicant"]["nom"] == "Dupont"


def test_draft_survives_reload_and_expires(example: Any) -> None:
    journey.post(example, "/demarches/acte-naissance/etapes/demarche", [])
    journey.post(
        example, "/demarches/acte-naissance/etapes/informations", list(journey.APPLICANT.items())
    )
    page = example.get("/demarches/acte-naissance/etapes/informations").text
    assert 'value="Dupont"' in page and 'value="marie.dupont@example.org"' in page
    ttl = example.app.state.settings.draft_ttl_hours
    example.app.state.now.now = FIXED_NOW + dt.timedelta(hours=ttl + 1)
    response = example.get("/demarches/acte-naissance/etapes/informations", follow_redirects=False)
    assert response.headers["location"] == "/demarches/acte-naissance/etapes/demarche"


def test_changed_version_keeps_known_values_and_says_so(example: Any) -> None:
    proc = proc_of(example, "acte-naissance")
    journey.post(example, "/demarches/acte-naissance/etapes/demarche", [])
    journey.post(
        example, "/demarches/acte-naissance/etapes/informations", list(journey.APPLICANT.items())
    )
    first = proc.steps[0]
    journey.post(
        example,
        f"/demarches/acte-naissance/etapes/demande-{first.id}",
        journey.step_pairs(proc, first.id, TODAY),
    )
    kept = first.fields[0]
    dropped = next(f for f in first.fields[1:] if f.holds_value)
    fields = tuple(f for f in first.fields if f is not dropped)
    changed = dataclasses.replace(
        proc,
        steps=(dataclasses.replace(first, fields=fields), *proc.steps[1:]),
        version="changed-version",
    )
    pack = example.app.state.pack
    example.app.state.pack = dataclasses.replace(
        pack, procedures={**pack.procedures, proc.id: changed}
    )
    page = example.get("/demarches/acte-naissance/etapes/informations").text
    assert ws.VERSION_CHANGED.split(".")[0] in unescape(page)
    again = example.get("/demarches/acte-naissance/etapes/informations").text
    assert ws.VERSION_CHANGED.split(".")[0] not in unescape(again)  # said once
    values = _only_draft(example, "acte-naissance")["values"]
    assert kept.id in values and dropped.id not in values


def _draft_saved_at(client: Any, procedure_id: str) -> dt.datetime:
    import sqlalchemy as sa

    from storage.tables import drafts as table

    async def load(db: Any) -> Any:
        row = await db.fetch_one(sa.select(table).where(table.c.procedure_id == procedure_id))
        return (await drafts.load_draft(db, row["session_id"], procedure_id)).updated_at

    return run_in_app(client, load, client.app.state.db)  # type: ignore[no-any-return]


def test_a_step_posted_again_unchanged_is_not_written_again_for_a_while(example: Any) -> None:
    proc = proc_of(example, "acte-naissance")
    journey.fill_draft(example, proc, TODAY)
    url = f"/demarches/acte-naissance/etapes/demande-{proc.steps[0].id}"
    same = journey.step_pairs(proc, proc.steps[0].id, TODAY)
    clock = example.app.state.now
    saved = _draft_saved_at(example, "acte-naissance")
    clock.now = FIXED_NOW + dt.timedelta(minutes=5)
    assert journey.post(example, url, same).status_code == 303
    assert _draft_saved_at(example, "acte-naissance") == saved
    clock.now = FIXED_NOW + dt.timedelta(minutes=6)
    changed = [(k, "2" if k == "exemplaires" else v) for k, v in same]
    assert journey.post(example, url, changed).status_code == 303
    assert _draft_saved_at(example, "acte-naissance") == clock.now
    assert _only_draft(example, "acte-naissance")["values"]["exemplaires"] == 2
    # Unchanged but older than ten minutes: written, so the draft does not expire meanwhile.
    clock.now = FIXED_NOW + dt.timedelta(minutes=17)
    assert journey.post(example, url, changed).status_code == 303
    assert _draft_saved_at(example, "acte-naissance") == clock.now


def test_step_sequence_follows_the_shown_steps_and_hands_out_copies(example: Any) -> None:
    from engine import rules

    proc = example.app.state.pack.procedures["acte-naissance"]
    every = rules.visibility(proc, {})
    fewer = dataclasses.replace(every, steps=every.steps[1:], documents=())
    keys = [s.key for s in ws.step_sequence(proc, every)]
    assert keys == ["demarche", "informations"] + [f"demande-{s.id}" for s in proc.steps] + [
        "pieces",
        "recapitulatif",
    ]
    fewer_keys = [s.key for s in ws.step_sequence(proc, fewer)]
    assert fewer_keys == ["demarche", "informations"] + [
        f"demande-{s.id}" for s in proc.steps[1:]
    ] + ["recapitulatif"]
    mine = ws.step_sequence(proc, every)
    mine.clear()  # a caller's list is its own: the next page gets the whole sequence
    assert [s.key for s in ws.step_sequence(proc, every)] == keys
