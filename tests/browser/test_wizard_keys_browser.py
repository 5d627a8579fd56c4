"""Keyboard behaviour of the wizard in headless Chromium: Enter in a repeatable group's field
continues (the form's default button), it never removes or adds a row."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_journey_browser import audit, browser_page, fill_applicant
from tests.renderer.conftest import EXAMPLE_PACK
from tests.renderer.live import LiveServer

pytestmark = pytest.mark.browser

__all__ = ["browser_page"]


def _fill_row(page: Any, n: int, prenom: str) -> None:
    page.fill(f"#f-enfants-{n}-prenom", prenom)
    page.fill(f"#f-enfants-{n}-nom", "Dupont")
    page.fill(f"#f-enfants-{n}-naissance", "2019-03-14")
    page.select_option(f"#f-enfants-{n}-classe", "CP")


def _to_children_step(page: Any, base: str) -> None:
    page.goto(f"{base}/demarche")
    page.get_by_role("button", name="Commencer").click()
    page.wait_for_url(f"{base}/informations")
    fill_applicant(page)
    page.keyboard.press("Enter")  # implicit submission continues here too
    page.wait_for_url(f"{base}/demande-enfants")


def test_enter_in_row_three_continues_and_keeps_every_row(
    app_factory: Any, browser_page: Any
) -> None:
    page = browser_page
    with LiveServer(app_factory(EXAMPLE_PACK)) as server:
        base = f"{server.url}/demarches/inscription-periscolaire/etapes"
        _to_children_step(page, base)
        _fill_row(page, 0, "Léa")
        page.get_by_role("button", name="Ajouter un enfant").click()
        _fill_row(page, 1, "Tom")
        page.get_by_role("button", name="Ajouter un enfant").click()
        _fill_row(page, 2, "Zoé")
        audit(page, [])
        page.focus("#f-enfants-2-prenom")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base}/demande-accueils")
        page.goto(f"{base}/demande-enfants")
        assert page.locator("input[name=enfants-rows]").input_value() == "3"
        names = [page.input_value(f"#f-enfants-{n}-prenom") for n in range(3)]
        assert names == ["Léa", "Tom", "Zoé"]


def test_enter_with_one_row_continues_instead_of_adding_a_row(
    app_factory: Any, browser_page: Any
) -> None:
    page = browser_page
    with LiveServer(app_factory(EXAMPLE_PACK)) as server:
        base = f"{server.url}/demarches/inscription-periscolaire/etapes"
        _to_children_step(page, base)
        page.fill("#f-enfants-0-prenom", "Léa")
        page.keyboard.press("Enter")
        # Validation ran (the other fields of the row are missing): errors, still one row.
        page.wait_for_selector("#resume-erreurs")
        assert page.locator("input[name=enfants-rows]").input_value() == "1"
        assert page.input_value("#f-enfants-0-prenom") == "Léa"
        audit(page, [])
