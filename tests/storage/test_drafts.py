from __future__ import annotations

import datetime as dt

import pytest

from storage.db import Database
from storage.drafts import DraftConflict, delete_draft, load_draft, purge_drafts, save_draft
from tests.storage.conftest import NOW

pytestmark = pytest.mark.anyio


async def test_save_then_load_then_overwrite(db: Database) -> None:
    assert await load_draft(db, "session-1", "cantine") is None
    first = await save_draft(db, "session-1", "cantine", "v1", {"nom": "Zoé"}, NOW)
    later = NOW + dt.timedelta(minutes=3)
    data = {"nom": "Zoé", "âge": 7}
    second = await save_draft(db, "session-1", "cantine", "v2", data, later, expected=first)

    draft = await load_draft(db, "session-1", "cantine")
    assert draft is not None
    assert (draft.version, draft.data, draft.updated_at, draft.rev) == ("v2", data, later, second)
    assert len({first, second}) == 2 and len(second) == 16
    assert await load_draft(db, "session-2", "cantine") is None
    assert await load_draft(db, "session-1", "autre") is None


async def test_delete_and_purge(db: Database) -> None:
    await save_draft(db, "old", "cantine", "v1", {}, NOW - dt.timedelta(days=8))
    await save_draft(db, "recent", "cantine", "v1", {}, NOW)
    rev = await save_draft(db, "gone", "cantine", "v1", {}, NOW)
    await delete_draft(db, "gone", "cantine", rev="another revision")
    assert await load_draft(db, "gone", "cantine") is not None
    await delete_draft(db, "gone", "cantine", rev=rev)

    assert await purge_drafts(db, older_than=NOW - dt.timedelta(days=7)) == 1
    assert await load_draft(db, "old", "cantine") is None
    assert await load_draft(db, "recent", "cantine") is not None
    assert await load_draft(db, "gone", "cantine") is None


async def test_a_write_from_a_revision_no_longer_stored_changes_nothing(db: Database) -> None:
    """Two tabs: both opened revision ``first``; the second tab's save comes too late."""
    first = await save_draft(db, "s", "cantine", "v1", {"nom": "Zoé"}, NOW)
    second = await save_draft(db, "s", "cantine", "v1", {"nom": "Léa"}, NOW, expected=first)
    with pytest.raises(DraftConflict):
        await save_draft(db, "s", "cantine", "v1", {"nom": "Eve"}, NOW, expected=first)
    with pytest.raises(DraftConflict):  # a new draft where one exists already
        await save_draft(db, "s", "cantine", "v1", {"nom": "Eve"}, NOW)
    stored = await load_draft(db, "s", "cantine")
    assert stored is not None and (stored.data, stored.rev) == ({"nom": "Léa"}, second)

    await delete_draft(db, "s", "cantine", second)
    with pytest.raises(DraftConflict):  # gone (submitted, say): not brought back
        await save_draft(db, "s", "cantine", "v1", {"nom": "Eve"}, NOW, expected=second)
    assert await load_draft(db, "s", "cantine") is None
