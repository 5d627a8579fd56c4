"""The database handle: a thin wrapper over the `databases` package.

Callers outside storage/ only get a `Database` from `connect()` and hand it to the storage
functions; they never build queries. Keeping this surface narrow is what lets the driver
layer be tuned or swapped (see docs/performance.md).

Rows come back as plain dicts. JSON is stored as text and timestamps as UTC; `load_json`
and `as_utc` turn them back into Python values the same way on both backends.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import databases
import sqlalchemy as sa
from databases.core import Transaction
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ClauseElement

Backend = Literal["sqlite", "postgresql"]


class _GuichetDatabases(databases.Database):
    SUPPORTED_BACKENDS: ClassVar[dict[str, str]] = {  # type: ignore[misc]
        **databases.Database.SUPPORTED_BACKENDS,
        "sqlite": "storage.sqlite:GuichetSQLiteBackend",
    }


class Database:
    """A connected database. Queries made inside `transaction()` use its connection."""

    def __init__(self, inner: databases.Database, backend: Backend) -> None:
        self._inner = inner
        self.backend: Backend = backend

    def transaction(self) -> Transaction:
        """``async with db.transaction():`` — commits on success, rolls back on error."""
        return self._inner.transaction()

    async def fetch_all(self, query: ClauseElement) -> list[dict[str, Any]]:
        rows = await self._inner.fetch_all(query)
        return [dict(row._mapping) for row in rows]

    async def fetch_one(self, query: ClauseElement) -> dict[str, Any] | None:
        row = await self._inner.fetch_one(query)
        return None if row is None else dict(row._mapping)

    async def fetch_val(self, query: ClauseElement) -> Any:
        row = await self._inner.fetch_one(query)
        return None if row is None else next(iter(dict(row._mapping).values()))

    async def execute(self, query: ClauseElement) -> None:
        # The return value of `databases`' execute differs per backend (lastrowid,
        # rowcount or first column): use RETURNING with fetch_* when a result matters.
        await self._inner.execute(query)

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which has ``on_conflict_do_nothing/do_update``."""
        module = sqlite if self.backend == "sqlite" else postgresql
        return module.insert(table)

    async def insert_ignore(
        self, table: sa.Table, values: Mapping[str, Any], keys: Sequence[str]
    ) -> None:
        """Insert a row unless one with the same ``keys`` exists (no error, no change)."""
        await self.execute(
            self.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
        )

    async def disconnect(self) -> None:
        await self._inner.disconnect()


def backend_of(url: str) -> Backend:
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme == "sqlite":
        return "sqlite"
    if scheme in {"postgresql", "postgres"}:
        return "postgresql"
    raise ValueError(
        f"Database URL scheme {scheme!r} is not supported. "
        "Use sqlite:///path/to/file.sqlite3 or postgresql://user@host/db."
    )


async def connect(url: str) -> Database:
    """Connect to ``url`` (``sqlite:///var/guichet.sqlite3`` or ``postgresql://...``)."""
    backend = backend_of(url)
    inner = _GuichetDatabases(url)
    await inner.connect()
    return Database(inner, backend)


def dump_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def load_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def as_utc(value: dt.datetime | str | None) -> dt.datetime | None:
    """A stored timestamp as an aware UTC datetime (SQLite hands back naive or text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


class UtcDateTime(sa.TypeDecorator[dt.datetime]):
    """Timestamps stored in UTC: ``timestamptz`` on PostgreSQL, sortable text on SQLite."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ValueError(f"Timestamp {value!r} must be a timezone-aware datetime.")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value
