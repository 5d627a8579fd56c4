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

from storage.db import (
    Backend,
    Database,
    Statement,
    as_utc,
    binds,
    dialect_insert,
    dump_json,
    load_json,
)
from storage.tables import drafts


@dataclass(frozen=True)
class Draft:
    version: str
    data: dict[str, Any]
    updated_at: dt.datetime


def _key() -> sa.ColumnElement[bool]:
    c = drafts.c
    return sa.and_(
        c.session_id == sa.bindparam("session_id"), c.procedure_id == sa.bindparam("procedure_id")
    )


def _upsert(backend: Backend) -> Any:
    insert = dialect_insert(backend, drafts).values(
        **binds("session_id", "procedure_id", "version", "data", "updated_at")
    )
    excluded = insert.excluded
    return insert.on_conflict_do_update(
        index_elements=["session_id", "procedure_id"],
        set_={
            "version": excluded.version,
            "data": excluded.data,
            "updated_at": excluded.updated_at,
        },
    )


# Compiled once per backend: these run on every wizard page.
LOAD = Statement(sa.select(drafts.c.version, drafts.c.data, drafts.c.updated_at).where(_key()))
SAVE = Statement(_upsert)
DELETE = Statement(drafts.delete().where(_key()))


async def load_draft(db: Database, session_id: str, procedure_id: str) -> Draft | None:
    row = await db.fetch_one(LOAD, {"session_id": session_id, "procedure_id": procedure_id})
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
    values = {
        "session_id": session_id,
        "procedure_id": procedure_id,
        "version": version,
        "data": dump_json(data),
        "updated_at": now,
    }
    await db.execute(SAVE, values)


async def delete_draft(db: Database, session_id: str, procedure_id: str) -> None:
    await db.execute(DELETE, {"session_id": session_id, "procedure_id": procedure_id})


async def purge_drafts(db: Database, older_than: dt.datetime) -> int:
    """Delete drafts last saved before ``older_than``; return how many were deleted."""
    deleted = await db.fetch_all(
        drafts.delete().where(drafts.c.updated_at < older_than).returning(drafts.c.session_id)
    )
    return len(deleted)
