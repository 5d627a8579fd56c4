"""The acknowledgement through a real SMTP server (aiosmtpd on loopback), link followed."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import socket
import threading
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from engine.model import Portal, State
from renderer import mail
from storage.outbox import SmtpSender, deliver_pending
from tests.renderer import journey
from tests.renderer.conftest import EXAMPLE_PACK, FIXED_NOW, run_in_app

TODAY = FIXED_NOW.date()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        self.arrived.set()
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_acknowledgement_delivered_over_smtp_and_link_followed(
    client_factory: Any, db_url: str, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    url = f"smtp://127.0.0.1:{port}"
    client = client_factory(
        EXAMPLE_PACK, db_url=db_url, smtp_url=url, base_url="http://guichet.example.fr"
    )
    proc = client.app.state.pack.procedures["inscription-cantine"]
    journey.fill_draft(client, proc, TODAY)
    response = journey.submit(client, proc)
    assert response.status_code == 303
    reference = unescape(client.get(response.headers["location"]).text).split(
        "Référence de votre demande : <strong>"
    )[1][:15]

    async def deliver(db: Any) -> int:
        # The app's worker round: composes the acknowledgement, then sends it.
        now = dt.datetime.now(dt.UTC)
        composer = client.app.state.compose_mail
        return await deliver_pending(db, SmtpSender(url), now, composer=composer)

    run_in_app(client, deliver, client.app.state.db)
    assert inbox.arrived.wait(30), "no message reached the SMTP server"
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "marie.dupont@example.org"
    assert message["Subject"] == f"Accusé de réception de votre demande {reference}"
    text = message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(preferencelist=("html",)).get_content()
    assert (
        "Votre demande « Inscription à la restauration scolaire » a bien été reçue par les "
        "services de la Ville de Belval-sur-Loire." in text
    )
    assert message["Auto-Submitted"] == "auto-generated"
    assert "Le service\nEnfance vous confirmera l'inscription avant la rentrée." in text
    assert "Récapitulatif" in text and "Nom de l'enfant : Réponse" in text
    assert 'lang="fr"' in html and "Récapitulatif" in html
    # The reference is in the body too (on PostgreSQL the statement puts it there).
    assert f"Référence : {reference}" in text
    assert f"Référence : <strong>{reference}</strong>" in html
    link = journey.TRACKING_LINK.search(text)
    assert link is not None and link.group(0).startswith("http://guichet.example.fr/suivi/")
    assert f'href="{link.group(0)}"' in html
    token = link.group(1)
    assert len(token) >= 22  # at least 128 bits, URL-safe base64
    page = client.get(f"/suivi/{token}")
    assert page.status_code == 200
    assert reference in page.text


def test_state_change_mail() -> None:
    from engine.model import Notification, Procedure

    state = State(
        "en-cours",
        "En cours de traitement",
        notify=Notification("Votre demande avance", "<b>Corps</b>"),
    )
    proc = Procedure(id="p", title="Démarche <test>", theme="t", service="s")
    portal = Portal(name="Ville de Test")
    composed = mail.compose_state_change(
        portal=portal,
        proc=proc,
        state=state,
        to="a@example.org",
        reference="DEM-2026-000001",
        token="jeton",
        base_url="http://127.0.0.1:8000/",
    )
    assert composed is not None
    assert composed.subject == "Votre demande avance (DEM-2026-000001)"
    assert (
        "Votre demande « Démarche <test> » (référence DEM-2026-000001) est maintenant : "
        "En cours de traitement." in composed.text
    )
    assert "http://127.0.0.1:8000/suivi/jeton" in composed.text
    assert "&lt;b&gt;Corps&lt;/b&gt;" in composed.html and "<b>Corps</b>" not in composed.html
    assert "Démarche &lt;test&gt;" in composed.html
    silent = State("x", "X")
    assert (
        mail.compose_state_change(
            portal=portal,
            proc=proc,
            state=silent,
            to="a@b.c",
            reference="R",
            token=None,
            base_url="http://x",
        )
        is None
    )


@pytest.mark.parametrize(
    ("title", "phrase"),
    [
        ("Demande d'acte de naissance", "Votre demande d'acte de naissance"),
        ("Recensement citoyen obligatoire", "Votre demande « Recensement citoyen obligatoire »"),
    ],
)
def test_your_request_does_not_repeat_demande(title: str, phrase: str) -> None:
    assert mail.your_request(title) == phrase


def test_acknowledgement_of_a_demande_and_a_question_label(client_factory: Any) -> None:
    client = client_factory(EXAMPLE_PACK)
    proc = client.app.state.pack.procedures["acte-naissance"]
    journey.fill_draft(client, proc, TODAY)
    assert journey.submit(client, proc).status_code == 303
    row = journey.outbox_mails(client)[-1]
    text, html = row["text_body"], unescape(row["html_body"])
    assert "Votre demande d'acte de naissance a bien été reçue par les services" in text
    assert "« Demande" not in text
    # A question is followed by its answer, without " :" after the "?".
    assert re.search(r"\n- Comment souhaitez-vous recevoir l'acte \? [^:\n]+\n", text)
    assert re.search(r"<li>Comment souhaitez-vous recevoir l'acte \? [^:<]+</li>", html)
    assert "? :" not in text and "? :" not in html
