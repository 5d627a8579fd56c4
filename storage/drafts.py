"""Server-side drafts: what a citizen typed, kept between wizard steps.

A draft is keyed by the browser session and the procedure, and remembers the definition
version it was started with (the renderer decides what to do when the procedure changed).
Uploaded files are referenced from ``data["documents"]`` (see `files.referenced_shas`), so
they are not swept while the draft lives. Old drafts are removed by `purge_drafts`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from storage.db import Database, as_utc, dump_json, load_json
from storage.tables import drafts


@dataclass(frozen=True)
class Draft:
    version: str
    data: dict[str, Any]
    updated_at: dt.datetime


def _key(session_id: str, procedure_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(drafts.c.session_id == session_id, drafts.c.procedure_id == procedure_id)


async def load_draft(db: Database, session_id: str, procedure_id: str) -> Draft | None:
    row = await db.fetch_one(sa.select(drafts).where(_key(session_id, procedure_id)))
    if row is None:
        return None
    updated_at = as_utc(row["updated_at"])
    assert updated_at is not None
    return Draft(version=row["version"], data=load_json(row["data"]), updated_at=updated_at)


async def save_draft(
    db: Database,
    session_id: str,
    procedure_id: str,
    version: str,
    data: dict[str, Any],
    now: dt.datetime,
) -> None:
    """Create or replace the draft of this session for this procedure."""
    values = {"version": version, "data": dump_json(data), "updated_at": now}
    query = (
        db.insert(drafts)
        .values(session_id=session_id, procedure_id=procedure_id, **values)
        .on_conflict_do_update(index_elements=["session_id", "procedure_id"], set_=values)
    )
    await db.execute(query)


async def delete_draft(db: Database, session_id: str, procedure_id: str) -> None:
    await db.execute(drafts.delete().where(_key(session_id, procedure_id)))


async def purge_drafts(db: Database, older_than: dt.datetime) -> int:
    """Delete drafts last saved before ``older_than``; return how many were deleted."""
    deleted = await db.fetch_all(
        drafts.delete().where(drafts.c.updated_at < older_than).returning(drafts.c.session_id)
    )
    return len(deleted)
