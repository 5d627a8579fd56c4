"""Tracking from the private link: snapshot rendering, documents, history, cancellation."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from engine.validate import load_pack
from renderer import text
from tests.renderer import journey
from tests.renderer.conftest import EXAMPLE_PACK, FIXED_NOW, csrf_token_of

TODAY = FIXED_NOW.date()


@pytest.fixture
def example(client_factory: Any, db_url: str) -> Any:
    return client_factory(EXAMPLE_PACK, db_url=db_url)


def test_tracking_page_shows_the_request(example: Any) -> None:
    proc = example.app.state.pack.procedures["inscription-periscolaire"]
    token = journey.submitted(example, proc, TODAY)
    response = example.get(f"/suivi/{token}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    page = unescape(response.text)
    assert '<meta name="robots" content="noindex">' in page
    assert "<h1>Suivi de la demande</h1>" in page
    assert re.search(r"<strong>DEM-2026-\d{6}</strong>", page)
    assert proc.title in page
    assert '<span class="status">Reçue</span>' in page
    assert "1er juin 2026 à 10 h" in page and "10:00" not in page
    assert "Le demandeur" in page and "marie.dupont@example.org" in page
    assert "Enfants à inscrire" in page and "Vos enfants" in page
    assert "Historique" in page and "Demande déposée" in page
    assert "Annuler ma demande" in page
    links = re.findall(rf'href="(/suivi/{token}/pieces/[0-9a-f]{{64}})"', response.text)
    assert len(links) == 3
    download = example.get(links[0])
    assert download.status_code == 200
    assert download.content == journey.TINY_PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert example.get(f"/suivi/{token}/pieces/{'0' * 64}").status_code == 404


def test_snapshot_is_rendered_after_the_yaml_changed(example: Any, tmp_path: Path) -> None:
    proc = example.app.state.pack.procedures["inscription-cantine"]
    token = journey.submitted(example, proc, TODAY)
    changed = tmp_path / "definitions"
    shutil.copytree(EXAMPLE_PACK, changed)
    yaml = changed / "procedures" / "inscription-cantine.yaml"
    text = yaml.read_text()
    assert "title: Inscription à la restauration scolaire" in text
    text = text.replace(
        "title: Inscription à la restauration scolaire", "title: Cantine (nouveau titre)"
    ).replace("label: Nom de l'enfant", "label: Nom de famille de l'enfant")
    yaml.write_text(text)
    example.app.state.pack = load_pack([changed])
    assert "Cantine (nouveau titre)" in example.get("/demarches/inscription-cantine").text
    page = unescape(example.get(f"/suivi/{token}").text)
    assert "Inscription à la restauration scolaire" in page
    assert "Nom de l'enfant" in page
    assert "Cantine (nouveau titre)" not in page
    assert "Nom de famille de l'enfant" not in page


def test_cancel_with_confirmation(example: Any) -> None:
    proc = example.app.state.pack.procedures["acte-naissance"]
    token = journey.submitted(example, proc, TODAY)
    confirm = example.get(f"/suivi/{token}/annuler")
    assert confirm.status_code == 200
    assert "Confirmez-vous l'annulation ?" in unescape(confirm.text)
    no_csrf = example.post(f"/suivi/{token}/annuler", data={}, follow_redirects=False)
    assert no_csrf.status_code == 403
    assert '<span class="status">Reçue</span>' in example.get(f"/suivi/{token}").text
    response = example.post(
        f"/suivi/{token}/annuler",
        data={"csrf_token": csrf_token_of(confirm.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == f"/suivi/{token}"
    page = unescape(example.get(f"/suivi/{token}").text)
    assert page.count("annulée. Elle est archivée.") == 1
    assert "Votre demande a été annulée. Elle est archivée." in page
    assert '<span class="status">Annulée</span>' in page
    assert "Demande annulée par le demandeur" in page
    assert "Annuler ma demande" not in page
    # Once: the flash is gone, the archived notice stays.
    again = unescape(example.get(f"/suivi/{token}").text)
    assert "Votre demande a été annulée. Elle est archivée." not in again
    assert "Cette demande a été annulée. Elle est archivée." in again
    # Cancelling again is not offered.
    repeat = example.get(f"/suivi/{token}/annuler", follow_redirects=False)
    assert repeat.status_code == 303


@pytest.mark.parametrize(
    ("at", "shown"),
    [
        (dt.datetime(2026, 6, 1, 16, 12, tzinfo=dt.UTC), "1er juin 2026 à 18 h 12"),
        (dt.datetime(2026, 12, 3, 8, 5, tzinfo=dt.UTC), "3 décembre 2026 à 9 h 05"),
        (dt.datetime(2026, 6, 1, 22, 0, tzinfo=dt.UTC), "2 juin 2026 à 0 h"),
    ],
)
def test_times_read_the_french_way_in_paris(at: dt.datetime, shown: str) -> None:
    assert text.datetime_fr(at) == shown


@pytest.mark.parametrize(
    "token",
    ["inconnu", "A" * 43, "x" * 500, "%3Cscript%3E"],
    ids=["short", "plausible", "long", "markup"],
)
def test_wrong_token_is_a_plain_404(example: Any, token: str) -> None:
    response = example.get(f"/suivi/{token}")
    assert response.status_code == 404
    reference = example.get("/page-qui-n-existe-pas")
    assert response.text == reference.text
    assert example.get(f"/suivi/{token}/annuler").status_code == 404
