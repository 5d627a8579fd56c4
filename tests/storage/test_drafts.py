from __future__ import annotations

import datetime as dt

import pytest

from storage.db import Database
from storage.drafts import delete_draft, load_draft, purge_drafts, save_draft
from tests.storage.conftest import NOW

pytestmark = pytest.mark.anyio


async def test_save_then_load_then_overwrite(db: Database) -> None:
    assert await load_draft(db, "session-1", "cantine") is None
    await save_draft(db, "session-1", "cantine", "v1", {"nom": "Zoé"}, NOW)
    later = NOW + dt.timedelta(minutes=3)
    await save_draft(db, "session-1", "cantine", "v2", {"nom": "Zoé", "âge": 7}, later)

    draft = await load_draft(db, "session-1", "cantine")
    assert draft is not None
    assert (draft.version, draft.data, draft.updated_at) == ("v2", {"nom": "Zoé", "âge": 7}, later)
    assert await load_draft(db, "session-2", "cantine") is None
    assert await load_draft(db, "session-1", "autre") is None


async def test_delete_and_purge(db: Database) -> None:
    await save_draft(db, "old", "cantine", "v1", {}, NOW - dt.timedelta(days=8))
    await save_draft(db, "recent", "cantine", "v1", {}, NOW)
    await save_draft(db, "gone", "cantine", "v1", {}, NOW)
    await delete_draft(db, "gone", "cantine")

    assert await purge_drafts(db, older_than=NOW - dt.timedelta(days=7)) == 1
    assert await load_draft(db, "old", "cantine") is None
    assert await load_draft(db, "recent", "cantine") is not None
    assert await load_draft(db, "gone", "cantine") is None
