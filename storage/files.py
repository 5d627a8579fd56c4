"""The content-addressed file store, and the sweep of files nothing refers to.

Files live under ``root/ab/cd/<sha256>``: never under the client's file name, never inside
a web root (the renderer serves them itself after checking who asks). A file is written to
a temporary file in the same folder, fsynced, then renamed into place, so a reader never
sees half a file and two uploads of the same content converge on one file.

Uploads are written before the submission transaction; if that transaction fails the file
is left unreferenced and `sweep_files` removes it once it is older than the grace period
(the grace protects a file uploaded a second ago whose draft or request is not saved yet).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from storage.db import Database, load_json
from storage.tables import drafts, piece_files

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all: temp file, fsync, rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha: str) -> Path:
        if not SHA256_HEX.match(sha):
            raise ValueError(f"File id {sha!r} is not a SHA-256 hex digest.")
        return self.root / sha[:2] / sha[2:4] / sha

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its SHA-256 (hex); storing the same bytes twice is a no-op."""
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if target.exists():
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, data)
        return sha

    def open(self, sha: str) -> bytes:
        return self.path(sha).read_bytes()

    def exists(self, sha: str) -> bool:
        return self.path(sha).is_file()

    def delete(self, sha: str) -> None:
        self.path(sha).unlink(missing_ok=True)

    def all(self) -> Iterator[str]:
        """Every stored file's SHA-256 (temporary files excluded)."""
        if not self.root.is_dir():
            return
        for path in self.root.glob("??/??/*"):
            if SHA256_HEX.match(path.name):
                yield path.name

    def mtime(self, sha: str) -> float:
        return self.path(sha).stat().st_mtime


def _shas_in(value: Any) -> Iterator[str]:
    """Every string under a ``sha256`` key, however deep (the draft layout is the renderer's)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "sha256" and isinstance(item, str):
                yield item
            else:
                yield from _shas_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _shas_in(item)


async def referenced_shas(db: Database) -> set[str]:
    """Files referenced by a piece (of a request or an account) or by a draft's documents."""
    found = {r["sha256"] for r in await db.fetch_all(sa.select(piece_files.c.sha256).distinct())}
    for row in await db.fetch_all(sa.select(drafts.c.data)):
        found.update(_shas_in((load_json(row["data"]) or {}).get("documents")))
    return found


async def sweep_files(
    db: Database, store: FileStore, *, grace_seconds: float, now: dt.datetime | None = None
) -> list[str]:
    """Delete stored files that nothing references and that are older than the grace period."""
    cutoff = (now.timestamp() if now else time.time()) - grace_seconds
    # List the files before reading the references: a file uploaded after the listing is
    # not considered, and one referenced meanwhile is protected by the grace period.
    candidates = [sha for sha in store.all() if store.mtime(sha) < cutoff]
    if not candidates:
        return []
    referenced = await referenced_shas(db)
    swept = []
    for sha in candidates:
        if sha not in referenced:
            store.delete(sha)
            swept.append(sha)
    return swept
