"""Builders of storage inputs shared by the storage tests."""

from __future__ import annotations

from storage.outbox import Mail
from storage.requests import NewRequest, Piece, QuotaClaim, StoredFile

SNAPSHOT = {"id": "inscription-cantine", "title": "Inscription à la restauration scolaire"}


def new_request(quota: QuotaClaim | None = None, pieces: list[Piece] | None = None) -> NewRequest:
    return NewRequest(
        procedure_id="inscription-cantine",
        version="0123456789abcdef",
        snapshot=SNAPSHOT,
        state="deposee",
        applicant={"nom": "Lefèvre", "prenom": "Zoé", "email": "zoe@example.org"},
        data={"enfant": {"nom": "Léa", "regime": "végétarien"}},
        pieces=pieces or [],
        quota=quota,
    )


def a_piece(sha: str) -> Piece:
    return Piece(
        document_type="justificatif-domicile",
        label="Justificatif de domicile",
        files=[StoredFile(sha, "facture.pdf", "application/pdf", 1234)],
    )


def ack(reference: str, token: str) -> Mail:
    return Mail(
        to="zoe@example.org",
        subject=f"Accusé de réception de votre demande {reference}",
        text=f"Votre demande {reference} est bien reçue. Suivi : /suivi/{token}",
        html=f"<p>Votre demande <strong>{reference}</strong> est bien reçue.</p>"
        f'<p><a href="/suivi/{token}">Suivre ma demande</a></p>',
    )
