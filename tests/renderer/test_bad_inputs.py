"""Bad input never stores anything wrong, never crashes, never injects markup."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest

from tests.renderer import journey
from tests.renderer.conftest import EXAMPLE_PACK, FIXED_NOW, csrf_token_of

TODAY = FIXED_NOW.date()
XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def example(client_factory: Any) -> Any:
    return client_factory(EXAMPLE_PACK, raise_server_exceptions=False)


@pytest.mark.parametrize(
    "procedure_id", ["inscription-periscolaire", "occupation-domaine-public", "signalement"]
)
def test_xss_in_every_text_field_is_escaped_everywhere(example: Any, procedure_id: str) -> None:
    proc = example.app.state.pack.procedures[procedure_id]
    summary_url = journey.fill_draft(example, proc, TODAY, text=XSS)
    summary = example.get(summary_url).text
    assert XSS not in summary
    assert summary.count(ESCAPED) >= 4  # name, first name, street, city at least
    response = journey.submit(example, proc)
    assert response.status_code == 303
    confirmation = example.get(response.headers["location"]).text
    assert XSS not in confirmation
    mail = journey.outbox_mails(example)[-1]
    assert XSS not in mail["html_body"]
    assert ESCAPED in mail["html_body"]
    assert XSS in mail["text_body"]  # plain text has nothing to escape
    tracking = example.get(f"/suivi/{journey.tracking_token(mail['text_body'])}").text
    assert XSS not in tracking
    assert tracking.count(ESCAPED) >= 4


def test_xss_is_escaped_when_redisplayed_with_errors(example: Any) -> None:
    journey.post(example, "/demarches/signalement/etapes/demarche", [])
    response = journey.post(
        example,
        "/demarches/signalement/etapes/informations",
        [("nom", XSS), ("courriel", XSS + "@x")],
    )
    assert response.status_code == 200
    assert XSS not in response.text
    assert f'value="{ESCAPED}"' in response.text


def test_missing_csrf_token_is_403(example: Any) -> None:
    example.get("/demarches/signalement/etapes/demarche")
    for data in ({}, {"csrf_token": "faux"}):
        response = example.post("/demarches/signalement/etapes/demarche", data=data)
        assert response.status_code == 403
        assert "Le formulaire a expiré" in unescape(response.text)
    assert journey.outbox_mails(example) == []


def test_last_step_first_redirects_to_the_first_step(example: Any) -> None:
    page = example.get("/demarches/signalement/etapes/demarche")
    token = csrf_token_of(page.text)
    response = example.post(
        "/demarches/signalement/etapes/recapitulatif",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/demarches/signalement/etapes/demarche"
    assert journey.outbox_mails(example) == []


@pytest.mark.parametrize(
    ("pairs", "anchor", "message"),
    [
        ([("civilite", "Docteur")], "f-civilite", "Sélectionnez une des valeurs proposées."),
        ([("naissance", "31/02/1990")], "f-naissance", "Saisissez une date valide."),
        ([("naissance", "2030-01-01")], "f-naissance", "La date doit être le 01/06/2026 ou avant."),
        ([("telephone", "12")], "f-telephone", "Saisissez un numéro de téléphone valide."),
        ([("nom", "x" * 101)], "f-nom", "Saisissez au plus 100 caractères."),
    ],
    ids=["choice", "date", "date-bound", "phone", "length"],
)
def test_invalid_values_get_french_messages(
    example: Any, pairs: list[tuple[str, str]], anchor: str, message: str
) -> None:
    journey.post(example, "/demarches/signalement/etapes/demarche", [])
    base = dict(journey.APPLICANT)
    base.update(dict(pairs))
    response = journey.post(
        example, "/demarches/signalement/etapes/informations", list(base.items())
    )
    assert response.status_code == 200
    assert f'<p class="error-message" id="e-{anchor[2:]}">' in response.text
    assert message in unescape(response.text)


def test_tampered_group_row_count_is_bounded(example: Any) -> None:
    proc = example.app.state.pack.procedures["inscription-periscolaire"]
    journey.fill_draft(example, proc, TODAY, until="demande-enfants")
    url = "/demarches/inscription-periscolaire/etapes/demande-enfants"
    for rows in ("-5", "abc", "99999"):
        response = journey.post(example, url, [("enfants-rows", rows)])
        assert response.status_code == 200
        assert response.text.count('class="group-row"') <= 5
