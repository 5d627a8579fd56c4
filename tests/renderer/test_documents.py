"""Pièces justificatives: uploads checked by content, count and size; preview; removal."""

from __future__ import annotations

from html import unescape
from typing import Any

import pytest

from renderer import uploads
from renderer import wizard_state as ws
from tests.renderer import journey
from tests.renderer.conftest import EXAMPLE_PACK, FIXED_NOW, csrf_token_of

PROC = "inscription-periscolaire"
URL = f"/demarches/{PROC}/etapes/pieces"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200


@pytest.fixture
def pieces_page(client_factory: Any) -> Any:
    client = client_factory(EXAMPLE_PACK)
    proc = client.app.state.pack.procedures[PROC]
    assert journey.fill_draft(client, proc, FIXED_NOW.date(), until=ws.DOCUMENTS).endswith(
        "/pieces"
    )
    return client


def send(client: Any, files: list[tuple[str, Any]], **data: str) -> Any:
    token = csrf_token_of(client.get(URL).text)
    return client.post(URL, data={"csrf_token": token, **data}, files=files, follow_redirects=False)


def test_upload_preview_and_remove(pieces_page: Any) -> None:
    response = send(
        pieces_page,
        [
            ("piece-justificatif-domicile", ("recto.pdf", journey.TINY_PDF, "application/pdf")),
            ("piece-justificatif-domicile", ("verso.png", journey.TINY_PNG, "image/png")),
            ("piece-carnet-sante", ("carnet.pdf", journey.TINY_PDF, "application/pdf")),
        ],
        _upload="1",
    )
    assert response.status_code == 303 and response.headers["location"] == URL
    page = unescape(pieces_page.get(URL).text)
    assert "Aperçu de vos pièces" in page
    preview = page.split("Aperçu de vos pièces")[1]
    assert "<h3>Justificatif de domicile</h3>" in preview
    assert "<h3>Carnet de santé (pages des vaccinations)</h3>" in preview
    assert preview.index("carnet.pdf") < preview.index("recto.pdf") < preview.index("verso.png")
    # The proof of address has its 2 files: no more file input for it.
    assert 'name="piece-justificatif-domicile"' not in page
    response = send(pieces_page, [], **{"_remove_justificatif-domicile_0": "1"})
    assert response.status_code == 303
    page = unescape(pieces_page.get(URL).text)
    assert "recto.pdf" not in page and "verso.png" in page
    assert 'name="piece-justificatif-domicile"' in page


def test_required_piece_missing(pieces_page: Any) -> None:
    response = send(pieces_page, [], _continue="1")
    assert response.status_code == 200
    page = unescape(response.text)
    for label in (
        "Justificatif de domicile",
        "Carnet de santé (pages des vaccinations)",
        "Attestation d'assurance responsabilité civile",
    ):
        assert f"{label} : Ajoutez au moins un fichier pour cette pièce." in page
    files = [
        (f"piece-{kind}", (f"{kind}.pdf", journey.TINY_PDF, "application/pdf"))
        for kind in ("justificatif-domicile", "carnet-sante", "attestation-assurance")
    ]
    response = send(pieces_page, files, _continue="1")
    assert response.status_code == 303
    assert response.headers["location"] == f"/demarches/{PROC}/etapes/recapitulatif"


def test_exe_renamed_pdf_is_refused(pieces_page: Any) -> None:
    response = send(
        pieces_page,
        [
            ("piece-justificatif-domicile", ("facture.pdf", EXE, "application/pdf")),
            ("piece-carnet-sante", ("carnet.pdf", journey.TINY_PDF, "application/pdf")),
        ],
        _upload="1",
    )
    assert response.status_code == 200
    page = unescape(response.text)
    assert "Le fichier « facture.pdf » n'est pas un PDF, JPEG ou PNG valide." in page
    # What was sent for the other piece is kept.
    assert "carnet.pdf" in page
    assert "facture.pdf</span>" not in page


def test_five_files_in_a_piece_are_refused(pieces_page: Any) -> None:
    files = [
        ("piece-carnet-sante", (f"page{n}.pdf", journey.TINY_PDF, "application/pdf"))
        for n in range(5)
    ]
    response = send(pieces_page, files, _upload="1")
    assert response.status_code == 200
    assert "Une pièce peut contenir au maximum 4 fichiers." in unescape(response.text)
    assert "page0.pdf" not in response.text


def test_oversize_file(client_factory: Any) -> None:
    client = client_factory(EXAMPLE_PACK, max_upload_mb=1)
    proc = client.app.state.pack.procedures[PROC]
    journey.fill_draft(client, proc, FIXED_NOW.date(), until=ws.DOCUMENTS)
    big = b"%PDF-1.4\n" + b"0" * (1024 * 1024 + 10)
    response = send(client, [("piece-justificatif-domicile", ("gros.pdf", big, "application/pdf"))])
    assert response.status_code == 413
    assert "dépasse la taille maximale" in unescape(response.text)
    assert "gros.pdf" not in unescape(client.get(URL).text)


def test_type_restricted_by_document_type(client_factory: Any) -> None:
    client = client_factory(EXAMPLE_PACK)
    proc = client.app.state.pack.procedures["signalement"]
    assert any(d.type.id == "photo" for d in proc.documents)
    with pytest.raises(ValueError, match="n'est pas un JPEG, PNG ou HEIC valide"):
        uploads.check_file("scan.pdf", journey.TINY_PDF, ("jpeg", "png", "heic"), 10**6)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"%PDF-1.7", "pdf"),
        (b"\xff\xd8\xff\xe0", "jpeg"),
        (b"\x89PNG\r\n\x1a\n", "png"),
        (b"GIF89a", "gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"\x00\x00\x00\x18ftypheic", "heic"),
        (EXE, None),
        (b"", None),
    ],
)
def test_sniff(head: bytes, kind: str | None) -> None:
    assert uploads.sniff(head) == kind


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("C:\\Users\\marie\\scan.pdf", "scan.pdf"),
        ("../../etc/passwd", "passwd"),
        ('<script>"x".pdf', "_script_x_.pdf"),
        ("", "fichier"),
    ],
)
def test_display_name(raw: str, shown: str) -> None:
    assert uploads.display_name(raw) == shown
