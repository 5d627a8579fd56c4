from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from pathlib import Path

import pytest

from storage.db import Database
from storage.drafts import save_draft
from storage.files import FileStore, referenced_shas, sweep_files
from storage.requests import submit
from tests.storage.conftest import NOW
from tests.storage.factories import a_piece, new_request


def test_put_is_content_addressed(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    sha = store.put(b"%PDF-1.7 facture")
    assert sha == hashlib.sha256(b"%PDF-1.7 facture").hexdigest()
    assert store.path(sha) == tmp_path / "files" / sha[:2] / sha[2:4] / sha
    assert store.open(sha) == b"%PDF-1.7 facture"
    assert store.put(b"%PDF-1.7 facture") == sha
    assert list(store.all()) == [sha]
    # Nothing but the final file is left behind (the temporary file was renamed).
    assert [p.name for p in store.path(sha).parent.iterdir()] == [sha]
    store.delete(sha)
    assert not store.exists(sha)
    assert list(store.all()) == []


def test_path_refuses_anything_but_a_digest(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    with pytest.raises(ValueError, match=r"File id '\.\./etc/passwd' is not a SHA-256 hex digest"):
        store.path("../etc/passwd")


def test_leftover_temporary_files_are_not_listed(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    sha = store.put(b"x")
    (store.path(sha).parent / ".tmp-abc").write_bytes(b"partial")
    assert list(store.all()) == [sha]


def _age(store: FileStore, sha: str, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(store.path(sha), (past, past))


@pytest.mark.anyio
async def test_sweep_keeps_referenced_and_recent_files(db: Database, tmp_path: Path) -> None:
    store = FileStore(tmp_path / "files")
    in_request = store.put(b"request file")
    in_draft = store.put(b"draft file")
    orphan = store.put(b"orphan from a failed submission")
    fresh = store.put(b"uploaded a second ago")
    for sha in (in_request, in_draft, orphan):
        _age(store, sha, 3600)

    await submit(db, new_request(pieces=[a_piece(in_request)]), NOW)
    documents = {"justificatif-domicile": [{"sha256": in_draft, "filename": "a.pdf"}]}
    await save_draft(db, "s", "cantine", "v1", {"documents": documents}, NOW)

    assert await referenced_shas(db) == {in_request, in_draft}
    assert await sweep_files(db, store, grace_seconds=600) == [orphan]
    assert sorted(store.all()) == sorted([in_request, in_draft, fresh])
    # Once old enough, the unreferenced fresh file goes too.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert await sweep_files(db, store, grace_seconds=600, now=later) == [fresh]
