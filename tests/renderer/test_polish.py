"""Audit polish over the real app: intro title, favicon, upload button, "Fermée" badges."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from typing import Any

from starlette.testclient import TestClient

from renderer import wizard_state as ws
from tests.renderer import journey
from tests.renderer.conftest import EXAMPLE_PACK, FIXED_NOW, PARIS, csrf_token_of

UPLOAD = "Envoyer les fichiers choisis"
CLOSED_BADGE = '<span class="tag tag-closed">Fermée</span>'


def card_of(html: str, procedure_id: str) -> str:
    """The procedure card linking to ``procedure_id``."""
    inside = r"(?:(?!</article>).)*"
    pattern = rf'<article class="card procedure-card">{inside}href="/demarches/{procedure_id}"'
    match = re.search(pattern + inside + "</article>", html, re.S)
    assert match, procedure_id
    return match.group(0)


def test_intro_names_the_procedure_once(client_factory: Any) -> None:
    client = client_factory(EXAMPLE_PACK)
    html = client.get(f"/demarches/inscription-periscolaire/etapes/{ws.INTRO}").text
    title = "Inscription à l&#39;accueil périscolaire"
    assert f"<title>{title} – Ville de Belval-sur-Loire</title>" in html
    trail = html.split('<nav class="breadcrumb"')[1].split("</nav>")[0]
    assert trail.count(title) == 1
    assert "La démarche" in trail


def test_compact_progress_line(client_factory: Any) -> None:
    client = client_factory(EXAMPLE_PACK)
    html = client.get(f"/demarches/inscription-periscolaire/etapes/{ws.INTRO}").text
    steps = len(re.findall(r'<span class="step-number"', html))
    assert steps > 2
    assert (
        f'<p class="wizard-progress-compact" aria-hidden="true">Étape 1 sur {steps} : '
        "La démarche</p>"
    ) in html


def test_favicon(client: TestClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.text.startswith("<svg")
    html = client.get("/").text
    link = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', html)
    assert link and client.get(link.group(1)).status_code == 200


def test_upload_button_hidden_when_every_piece_is_full(client_factory: Any) -> None:
    client = client_factory(EXAMPLE_PACK)
    proc = client.app.state.pack.procedures["inscription-periscolaire"]
    url = journey.fill_draft(client, proc, FIXED_NOW.date(), until=ws.DOCUMENTS)
    assert UPLOAD in client.get(url).text
    files = [
        (f"piece-{doc.type.id}", (f"{doc.type.id}-{n}.pdf", journey.TINY_PDF, "application/pdf"))
        for doc in proc.documents
        for n in range(doc.type.max_files)
    ]
    token = csrf_token_of(client.get(url).text)
    data = {"csrf_token": token, "_upload": "1"}
    sent = client.post(url, data=data, files=files, follow_redirects=False)
    assert sent.status_code == 303
    page = unescape(client.get(url).text)
    assert page.count("Cette pièce contient le nombre maximum de fichiers.") == len(proc.documents)
    assert UPLOAD not in page
    # Removing one file gives room again: the button is back.
    remove = f"_remove_{proc.documents[0].type.id}_0"
    token = csrf_token_of(page)
    client.post(url, data={"csrf_token": token, remove: "1"}, follow_redirects=False)
    assert UPLOAD in client.get(url).text


def test_closed_badge_on_cards(client: TestClient) -> None:
    # At FIXED_NOW the cantine is open and the recensement (until 2026-03-31) closed.
    catalogue = client.get("/demarches").text
    assert CLOSED_BADGE in card_of(catalogue, "recensement")
    assert CLOSED_BADGE not in card_of(catalogue, "cantine")
    theme = client.get("/demarches/theme/citoyennete").text
    assert CLOSED_BADGE in card_of(theme, "recensement")
    found = client.get("/recherche", params={"q": "recensement"}).text
    assert CLOSED_BADGE in card_of(found, "recensement")
    home = client.get("/").text
    assert CLOSED_BADGE not in card_of(home, "cantine")
    # After the cantine's window (until 2026-07-15), its featured card says so.
    client.app.state.now.now = dt.datetime(2026, 7, 16, 9, 0, tzinfo=PARIS)
    assert CLOSED_BADGE in card_of(client.get("/").text, "cantine")
    assert CLOSED_BADGE in card_of(client.get("/demarches").text, "cantine")


def test_remove_buttons_are_outlined_danger(client_factory: Any) -> None:
    client = client_factory(EXAMPLE_PACK)
    proc = client.app.state.pack.procedures["inscription-periscolaire"]
    url = journey.fill_draft(client, proc, FIXED_NOW.date(), until=ws.DOCUMENTS)
    token = csrf_token_of(client.get(url).text)
    doc = proc.documents[0].type.id
    files = [(f"piece-{doc}", ("a.pdf", journey.TINY_PDF, "application/pdf"))]
    client.post(url, data={"csrf_token": token, "_upload": "1"}, files=files)
    html = client.get(url).text
    assert (
        '<button type="submit" class="button button-secondary button-danger button-small" '
        f'name="_remove_{doc}_0"'
    ) in html
