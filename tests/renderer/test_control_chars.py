"""Control characters in answers: removed when the form is read, so a NUL byte never reaches
the draft, the request, the outbox (PostgreSQL refuses it in text) or a page."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest
from starlette.datastructures import FormData

from renderer.security import without_controls
from tests.renderer import journey
from tests.renderer.conftest import EXAMPLE_PACK, FIXED_NOW

TODAY = FIXED_NOW.date()
DIRTY = "Du\x00pont\x07 de la Loire\x1b\x7f"


def test_only_c0_controls_but_tab_newline_cr_are_removed() -> None:
    form = FormData([("a", "x\x00y\x01\x1fz"), ("b", "l1\r\n\tl2"), ("c", "sans")])
    cleaned = without_controls(form)
    assert cleaned.multi_items() == [("a", "xyz"), ("b", "l1\r\n\tl2"), ("c", "sans")]
    clean = FormData([("c", "sans")])
    assert without_controls(clean) is clean


@pytest.mark.parametrize("procedure_id", ["signalement", "inscription-periscolaire"])
def test_a_nul_byte_in_every_text_field_is_stripped_through_the_journey(
    client_factory: Any, db_url: str, procedure_id: str
) -> None:
    client = client_factory(EXAMPLE_PACK, db_url=db_url)
    proc = client.app.state.pack.procedures[procedure_id]
    token = journey.submitted(client, proc, TODAY, text=DIRTY)
    mail = journey.outbox_mails(client)[-1]
    for body in (mail["text_body"], mail["html_body"], mail["subject"]):
        assert "\x00" not in body and "\x07" not in body
    assert "Dupont" in mail["text_body"]
    page = unescape(client.get(f"/suivi/{token}").text)
    assert "\x00" not in page and "\x1b" not in page
    assert "Dupont" in page  # the applicant's name, cleaned
