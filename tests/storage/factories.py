"""Builders of storage inputs shared by the storage tests."""

from __future__ import annotations

from typing import Any

from storage.db import Database
from storage.outbox import Mail
from storage.requests import NewRequest, Piece, QuotaClaim, StoredFile, get_request

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
        ack_to="zoe@example.org",
    )


def a_piece(sha: str) -> Piece:
    return Piece(
        document_type="justificatif-domicile",
        label="Justificatif de domicile",
        files=[StoredFile(sha, "facture.pdf", "application/pdf", 1234)],
    )


async def ack(db: Database, row: dict[str, Any]) -> Mail:
    """A composer of acknowledgements (what `storage.outbox.Composer` gets: the row)."""
    tracked = await get_request(db, row["request_id"])
    assert tracked is not None and row["template"] == "ack"
    return ack_mail(row["to_addr"], tracked.reference, row["secret"])


def ack_mail(to: str, reference: str, token: str) -> Mail:
    return Mail(
        to=to,
        subject=f"Accusé de réception de votre demande {reference}",
        text=f"Votre demande {reference} est bien reçue. Suivi : /suivi/{token}",
        html=f"<p>Votre demande <strong>{reference}</strong> est bien reçue.</p>"
        f'<p><a href="/suivi/{token}">Suivre ma demande</a></p>',
    )
