"""Uploaded pieces: type checked by content (magic bytes), size, count, display names.

The client's name and declared content type are never trusted: the type comes from the
first bytes, the name is only shown (sanitised) and files are stored by their hash.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

TYPE_LABELS = {
    "pdf": "PDF",
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WebP",
    "heic": "HEIC",
    "odt": "ODT",
    "docx": "DOCX",
}
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "odt": "application/vnd.oasis.opendocument.text",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>:\"/\\|?*]+")


def sniff(head: bytes) -> str | None:
    """The file kind from its first bytes (at least 64 are enough), or None."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1"):
        return "heic"
    if head.startswith(b"PK\x03\x04"):
        if b"mimetypeapplication/vnd.oasis.opendocument.text" in head[:100]:
            return "odt"
        if b"[Content_Types].xml" in head[:100] or b"word/" in head[:200]:
            return "docx"
    return None


def display_name(raw: str | None) -> str:
    """A name safe to show: no folders, no control or markup characters, at most 120 chars."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    name = _UNSAFE.sub("_", name).strip(" .") or "fichier"
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:110] + "…" + dot + ext[:8]) if dot else name[:120]
    return name


def types_phrase(kinds: Sequence[str]) -> str:
    """("pdf", "jpeg", "png") -> "PDF, JPEG ou PNG"."""
    labels = [TYPE_LABELS.get(k, k.upper()) for k in kinds]
    if len(labels) == 1:
        return labels[0]
    return ", ".join(labels[:-1]) + " ou " + labels[-1]


@dataclass(frozen=True, slots=True)
class Checked:
    kind: str
    content_type: str
    name: str


def check_file(name: str, content: bytes, accepted: Sequence[str], max_bytes: int) -> Checked:
    """Accept a file or raise ValueError with the French message for the citizen."""
    shown = display_name(name)
    if len(content) > max_bytes:
        mb = max_bytes // (1024 * 1024)
        raise ValueError(f"Le fichier « {shown} » dépasse la taille maximale de {mb} Mo.")
    kind = sniff(content[:256])
    if kind is None or kind not in accepted:
        phrase = types_phrase(accepted)
        raise ValueError(f"Le fichier « {shown} » n'est pas un {phrase} valide.")
    return Checked(kind, CONTENT_TYPES[kind], shown)
