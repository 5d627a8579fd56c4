"""A small versioned-migration runner, the same code on SQLite and PostgreSQL.

Each `Migration` runs in its own transaction and is recorded in ``schema_version`` in that
same transaction, so a failed migration leaves nothing behind and is retried next time.
Concurrent runners (several app processes starting at once) are serialised: SQLite by
``BEGIN IMMEDIATE``, PostgreSQL by a transaction-scoped advisory lock; each re-checks the
applied versions under that lock.

Adding a migration: give the new columns/tables ``info={"since": N}`` in `tables.py`, then
append ``Migration(N, "...", apply)`` below; ``apply`` may use `create_tables(db, N)` for
new tables and ``ALTER TABLE`` DDL for new columns. Migration 1 keeps creating the version-1
schema because `tables_at(1)` leaves out everything marked with a later ``since``. Indexes
are not versioned that way (`tables_at` copies the current ones): a migration that changes
an index drops it if it exists and creates it from `tables.py` (``CREATE INDEX``), which
is harmless on a database that migration 1 created with it already.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex, CreateTable

from storage import tables
from storage.db import DIALECTS, Database

# An arbitrary constant: the advisory-lock key of Guichet's migrations.
PG_LOCK_KEY = 4_721_190_317


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Database], Awaitable[None]]


def _since(item: sa.Table | sa.Column[object]) -> int:
    return int(item.info.get("since", 1))


def tables_at(version: int) -> list[sa.Table]:
    """Tables as they were at schema ``version`` (columns added later left out)."""
    frozen = sa.MetaData(naming_convention=tables.metadata.naming_convention)
    for table in tables.metadata.sorted_tables:
        if _since(table) > version:
            continue
        copy = table.to_metadata(frozen)
        for column in list(copy.columns):
            if _since(column) > version:
                copy._columns.remove(column)
    return list(frozen.sorted_tables)


async def create_tables(db: Database, version: int) -> None:
    """Create the tables introduced at ``version``, with their indexes."""
    for table in tables_at(version):
        if table.name == "schema_version" or _since(table) != version:
            continue
        await db.execute(CreateTable(table))
        for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
            await db.execute(CreateIndex(index))


async def _initial_schema(db: Database) -> None:
    await create_tables(db, 1)


async def _add_columns(db: Database, table: sa.Table, version: int) -> None:
    """``ALTER TABLE ... ADD COLUMN`` for the columns of ``table`` added at ``version``."""
    dialect = DIALECTS[db.backend]
    for column in table.columns:
        if _since(column) == version:
            ddl = f"ALTER TABLE {table.name} ADD COLUMN {column.name} "
            ddl += column.type.compile(dialect=dialect)
            default = column.server_default
            if isinstance(default, sa.DefaultClause) and isinstance(default.arg, str):
                ddl += " DEFAULT '" + default.arg.replace("'", "''") + "'"
            if not column.nullable:
                ddl += " NOT NULL"  # existing rows take the default
            await db.execute(sa.text(ddl))


async def _outbox_templates(db: Database) -> None:
    await _add_columns(db, tables.outbox, 2)


async def _draft_revisions(db: Database) -> None:
    await _add_columns(db, tables.drafts, 3)


async def _leaner_indexes(db: Database) -> None:
    await db.execute(sa.text("DROP INDEX IF EXISTS ix_drafts_updated_at"))
    for index in (tables.ix_requests_account_id, tables.ix_pieces_account_id):
        # Dropped and made again: a database created at version 4 has them partial already.
        await db.execute(sa.text(f"DROP INDEX IF EXISTS {index.name}"))
        await db.execute(CreateIndex(index))


async def _cheaper_event_check(db: Database) -> None:
    """The events' ``actor_kind`` CHECK written with ORs (`tables.ACTOR_KIND_CHECK`)."""
    events = tables.request_events
    if db.backend == "postgresql":
        name = "ck_request_events_actor_kind"
        await db.execute(
            sa.text(
                f"ALTER TABLE request_events DROP CONSTRAINT IF EXISTS {name}, "
                f"ADD CONSTRAINT {name} CHECK ({tables.ACTOR_KIND_CHECK})"
            )
        )
        return
    # SQLite cannot change a CHECK in place: the table is made again and its rows copied
    # (ids kept; nothing refers to events, so the foreign keys stay satisfied throughout).
    await db.execute(sa.text("ALTER TABLE request_events RENAME TO request_events_v4"))
    await db.execute(CreateTable(events))
    columns = ", ".join(column.name for column in events.columns)
    await db.execute(
        sa.text(f"INSERT INTO request_events ({columns}) SELECT {columns} FROM request_events_v4")
    )
    await db.execute(sa.text("DROP TABLE request_events_v4"))  # and its index
    for index in sorted(events.indexes, key=lambda ix: str(ix.name)):
        await db.execute(CreateIndex(index))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "Requests, history, pieces, quotas, drafts and outbox", _initial_schema),
    Migration(2, "Outbox mails composed by the worker (the acknowledgement)", _outbox_templates),
    Migration(3, "Draft revisions (stale saves and double submissions refused)", _draft_revisions),
    Migration(4, "Fewer index writes per submission and per draft saved", _leaner_indexes),
    Migration(
        5, "The events' actor kind checked with ORs (cheaper on SQLite)", _cheaper_event_check
    ),
)


async def applied_versions(db: Database) -> set[int]:
    rows = await db.fetch_all(sa.select(tables.schema_version.c.version))
    return {row["version"] for row in rows}


async def _lock(db: Database) -> None:
    if db.backend == "postgresql":
        await db.execute(sa.select(sa.func.pg_advisory_xact_lock(PG_LOCK_KEY)))


async def migrate(db: Database) -> list[int]:
    """Apply the pending migrations in order; return the versions applied (empty if none)."""
    async with db.transaction():
        await _lock(db)
        await db.execute(CreateTable(tables.schema_version, if_not_exists=True))
    applied: list[int] = []
    for migration in sorted(MIGRATIONS, key=lambda m: m.version):
        async with db.transaction():
            await _lock(db)
            if migration.version in await applied_versions(db):
                continue
            await migration.apply(db)
            await db.execute(
                tables.schema_version.insert().values(
                    version=migration.version,
                    description=migration.description,
                    applied_at=dt.datetime.now(dt.UTC),
                )
            )
        applied.append(migration.version)
    return applied
