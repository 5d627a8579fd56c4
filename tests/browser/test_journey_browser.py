"""The citizen journey in headless Chromium: live conditions, upload, summary, confirmation,
tracking; axe-core on every page of the journey (no serious or critical violation)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from storage.db import connect
from storage.outbox import compose_all
from storage.tables import outbox
from tests.renderer import journey
from tests.renderer.conftest import EXAMPLE_PACK
from tests.renderer.live import LiveServer

pytestmark = pytest.mark.browser

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def browser_page(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        context = browser.new_context(locale="fr-FR")
        page = context.new_page()
        try:
            yield page
        finally:
            context.close()
            browser.close()


def fill_applicant(page: Any) -> None:
    """Valid answers on the "Mes informations" step."""
    page.fill("#f-nom", "Dupont")
    page.fill("#f-prenom", "Marie")
    page.fill("#f-adresse-street", "3 rue de la Loire")
    page.fill("#f-adresse-postal_code", "45000")
    page.fill("#f-adresse-city", "Belval-sur-Loire")
    page.fill("#f-courriel", "marie.dupont@example.org")


def audit(page: Any, seen: list[str]) -> None:
    """axe-core on the current page: no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} -> "
        + "; ".join(n["target"][0] for n in v["nodes"][:5])
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert not bad, f"{page.url}:\n" + "\n".join(bad)
    seen.append(page.url)


async def _last_mail_text(db_url: str, composer: Any) -> str:
    db = await connect(db_url)
    try:
        await compose_all(db, composer)  # as the mail worker's next round would
        row = await db.fetch_one(sa.select(outbox.c.text_body).order_by(outbox.c.id.desc()))
        assert row is not None
        return str(row["text_body"])
    finally:
        await db.disconnect()


def test_journey_in_chromium(app_factory: Any, browser_page: Any) -> None:
    app = app_factory(EXAMPLE_PACK)
    page = browser_page
    audited: list[str] = []
    with LiveServer(app) as server:
        base = f"{server.url}/demarches/inscription-cantine/etapes"
        page.goto(f"{base}/demarche")
        audit(page, audited)
        page.get_by_role("button", name="Commencer").click()

        # Mes informations: errors first (summary focused), then valid answers.
        page.wait_for_url(f"{base}/informations")
        audit(page, audited)
        page.get_by_role("button", name="Continuer").click()
        summary = page.locator("#resume-erreurs")
        assert summary.is_visible()
        assert page.evaluate("document.activeElement.id") == "resume-erreurs"
        audit(page, audited)
        fill_applicant(page)
        page.get_by_role("button", name="Continuer").click()

        page.wait_for_url(f"{base}/demande-enfant")
        audit(page, audited)
        page.fill("#f-nom", "Dupont")
        page.fill("#f-prenom", "Léa")
        page.fill("#f-naissance", "2019-03-14")
        page.select_option("#f-ecole", index=1)
        page.select_option("#f-classe", "CP")
        page.get_by_role("button", name="Continuer").click()

        # Conditional field: shown live when the choice changes.
        page.wait_for_url(f"{base}/demande-repas")
        detail = page.locator("#f-pai_detail")
        assert detail.is_hidden()
        page.get_by_label("Lundi").check()
        page.get_by_label("PAI", exact=True).check()
        assert detail.is_visible()
        page.get_by_label("Standard").check()
        assert detail.is_hidden()
        page.get_by_label("PAI", exact=True).check()
        detail.fill("Allergie aux arachides")
        audit(page, audited)
        page.get_by_role("button", name="Continuer").click()

        # Pièces justificatives: an upload, then its preview.
        page.wait_for_url(f"{base}/pieces")
        audit(page, audited)
        page.set_input_files(
            "#f-piece-justificatif-domicile",
            files=[
                {"name": "facture.pdf", "mimeType": "application/pdf", "buffer": journey.TINY_PDF}
            ],
        )
        page.set_input_files(
            "#f-piece-carnet-sante",
            files=[{"name": "vaccins.png", "mimeType": "image/png", "buffer": journey.TINY_PNG}],
        )
        page.get_by_role("button", name="Envoyer les fichiers choisis").click()
        page.wait_for_selector("text=Aperçu de vos pièces")
        assert page.locator(".preview").inner_text().count("facture.pdf") == 1
        audit(page, audited)
        page.get_by_role("button", name="Continuer").click()

        page.wait_for_url(f"{base}/recapitulatif")
        text = page.inner_text("main")
        for expected in ("Dupont", "Léa", "Allergie aux arachides", "facture.pdf", "vaccins.png"):
            assert expected in text
        audit(page, audited)
        page.get_by_role("button", name="Valider ma demande").click()

        confirmation = f"{server.url}/demarches/inscription-cantine/confirmation?ref="
        page.wait_for_url(re.compile(re.escape(confirmation)))
        assert "Votre demande a bien été prise en compte" in page.inner_text("h1")
        assert "DEM-2026-" in page.inner_text("main")
        audit(page, audited)

        # Playwright's sync API owns this thread's event loop: query from another thread.
        with ThreadPoolExecutor(1) as pool:
            last = _last_mail_text(app.state.settings.db_url, app.state.compose_mail)
            mail = pool.submit(asyncio.run, last).result()
        token = journey.tracking_token(mail)
        page.goto(f"{server.url}/suivi/{token}")
        assert "Suivi de la demande" in page.inner_text("h1")
        audit(page, audited)
        page.get_by_role("link", name="Annuler ma demande").click()
        audit(page, audited)
        page.get_by_role("button", name="Oui, annuler ma demande").click()
        page.wait_for_url(f"{server.url}/suivi/{token}")
        assert "Votre demande a été annulée. Elle est archivée." in page.inner_text("main")
        audit(page, audited)
    assert len(audited) == 12


def test_locked_procedure_leads_to_a_page_not_a_404(app_factory: Any, browser_page: Any) -> None:
    app = app_factory(EXAMPLE_PACK)
    page = browser_page
    audited: list[str] = []
    with LiveServer(app) as server:
        page.goto(f"{server.url}/demarches/inscription-creche")
        audit(page, audited)
        for name, title in [("Se connecter", "Se connecter"), ("Je crée mon espace", "Créer")]:
            page.get_by_role("link", name=name).click()
            assert page.inner_text("h1").startswith(title)
            assert "L'espace personnel n'est pas encore ouvert" in page.inner_text("main")
            audit(page, audited)
            page.goto(f"{server.url}/demarches/inscription-creche")
        page.get_by_role("link", name="Se connecter").click()
        page.get_by_role("link", name="Revenir à la démarche").click()
        page.wait_for_url(f"{server.url}/demarches/inscription-creche")
    assert len(audited) == 3


def test_audit_reports_violations(browser_page: Any) -> None:
    """The audit itself can fail: an unlabelled input is a critical violation."""
    browser_page.set_content("<!doctype html><html><body><main><input></main></body></html>")
    with pytest.raises(AssertionError, match=r"label \(critical\)"):
        audit(browser_page, [])
