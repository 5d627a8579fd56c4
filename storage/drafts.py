"""Server-side drafts: what a citizen typed, kept between wizard steps.

A draft is keyed by the browser session and the procedure, and remembers the definition
version it was started with (the renderer decides what to do when the procedure changed).
Uploaded files are referenced from ``data["documents"]`` (see `files.referenced_shas`), so
they are not swept while the draft lives. Old drafts are removed by `purge_drafts`.

Every write gives the draft a new ``rev``, a random tag. A write names the revision it was
made from: `save_draft` replaces only that revision (`DraftConflict` when the stored draft
is another, or gone), `delete_draft` deletes only that one, and so does the submission
(`storage.requests.submit`). So a page that acted on a draft since changed by another
request of the same browser (a second tab, a double click on "Valider", a submission that
already took the draft) never overwrites the newer draft nor brings back a submitted one.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from storage.db import (
    Database,
    Statement,
    as_utc,
    binds,
    dialect_insert,
    dump_json,
    load_json,
)
from storage.tables import drafts


class DraftConflict(Exception):
    """The stored draft is not the revision a write was made from (changed, or gone)."""


@dataclass(frozen=True)
class Draft:
    version: str
    data: dict[str, Any]
    updated_at: dt.datetime
    rev: str


def new_rev() -> str:
    return secrets.token_hex(8)


def _key() -> sa.ColumnElement[bool]:
    c = drafts.c
    return sa.and_(
        c.session_id == sa.bindparam("session_id"), c.procedure_id == sa.bindparam("procedure_id")
    )


def revision() -> sa.ColumnElement[bool]:
    """The row of this session and procedure, at revision ``expected``."""
    return sa.and_(_key(), drafts.c.rev == sa.bindparam("expected"))


_WRITTEN = ("version", "data", "updated_at", "rev")

# Compiled once per backend: these run on every wizard page. The writes tell whether they
# wrote by their row count (`Database.execute_count`), not by RETURNING.
LOAD = Statement(sa.select(*(drafts.c[name] for name in _WRITTEN)).where(_key()))
INSERT = Statement(
    lambda backend: (
        dialect_insert(backend, drafts)
        .values(**binds("session_id", "procedure_id", *_WRITTEN))
        .on_conflict_do_nothing(index_elements=["session_id", "procedure_id"])
    )
)
UPDATE = Statement(drafts.update().where(revision()).values(**binds(*_WRITTEN)))
DELETE_REV = Statement(drafts.delete().where(revision()))


async def load_draft(db: Database, session_id: str, procedure_id: str) -> Draft | None:
    row = await db.fetch_one(LOAD, {"session_id": session_id, "procedure_id": procedure_id})
    if row is None:
        return None
    updated_at = as_utc(row["updated_at"])
    assert updated_at is not None
    data = load_json(row["data"])
    return Draft(version=row["version"], data=data, updated_at=updated_at, rev=row["rev"])


async def save_draft(
    db: Database,
    session_id: str,
    procedure_id: str,
    version: str,
    data: dict[str, Any],
    now: dt.datetime,
    expected: str | None = None,
) -> str:
    """Write the draft of this session for this procedure; return its new revision.

    ``expected``: the revision this draft was made from, or None for a new draft.
    `DraftConflict` (nothing written) when the stored draft is not that revision, or, for a
    new draft, when one exists already.
    """
    rev = new_rev()
    values = {
        "session_id": session_id,
        "procedure_id": procedure_id,
        "version": version,
        "data": dump_json(data),
        "updated_at": now,
        "rev": rev,
    }
    if expected is None:
        written = await db.execute_count(INSERT, values)
    else:
        written = await db.execute_count(UPDATE, dict(values, expected=expected))
    if not written:
        raise DraftConflict(session_id, procedure_id, expected)
    return rev


async def delete_draft(db: Database, session_id: str, procedure_id: str, rev: str) -> bool:
    """Delete the draft if it is at revision ``rev`` (a newer one stays); whether it was."""
    key = {"session_id": session_id, "procedure_id": procedure_id, "expected": rev}
    return await db.execute_count(DELETE_REV, key) > 0


async def purge_drafts(db: Database, older_than: dt.datetime) -> int:
    """Delete drafts last saved before ``older_than``; return how many were deleted."""
    deleted = await db.fetch_all(
        drafts.delete().where(drafts.c.updated_at < older_than).returning(drafts.c.session_id)
    )
    return len(deleted)
