"""The PostgreSQL driver: `databases` for the pool and transactions, asyncpg for statements.

`databases` hands each task its connection (the one of its open transaction, if any) and
runs transactions (nested = savepoint). Its own query methods compile the SQLAlchemy
statement on every call and wrap every row; here the statement is compiled once
(`storage.db.Statement`) and sent to the raw asyncpg connection. Because the SQL text of a
hot statement never changes, asyncpg's per-connection statement cache prepares it once per
connection and later calls skip the parse/plan round trip.

A connection going back to the pool is not sent asyncpg's default reset query (``RESET
ALL; UNLISTEN *; CLOSE ALL; pg_advisory_unlock_all()``, one round trip per release, so per
query made outside a transaction): Guichet changes no session state (advisory locks are
transaction-scoped), and asyncpg still rolls back a transaction left open.

Statements skip `databases`' per-statement connection lookup (~12 us of CPU each): inside a
transaction they go to the asyncpg connection the transaction holds (noted when it
starts, for the task that started it); outside one, to the asyncpg pool directly
(``Pool.fetch`` acquires and releases a connection around the statement).

One connection runs one statement at a time: a task started inside a transaction (by
``asyncio.gather``, say) runs its statements outside it, on pool connections, as it did
with `databases`.
"""

from __future__ import annotations

import asyncio
import contextvars
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any

import asyncpg
import databases

from storage.db import Database, Query, Values


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Pool reset hook: nothing to undo (see the module docstring)."""


class PostgresDatabase(Database):
    backend = "postgresql"

    def __init__(self, inner: databases.Database) -> None:
        super().__init__()
        self._inner = inner
        self._pool: asyncpg.Pool = inner._backend._pool  # type: ignore[attr-defined]
        # The raw connection of this task's open transaction, with the task it belongs to.
        self._held: contextvars.ContextVar[tuple[asyncio.Task[Any], asyncpg.Connection] | None]
        self._held = contextvars.ContextVar(f"pg_held_{id(self)}", default=None)

    @classmethod
    async def open(cls, url: str) -> PostgresDatabase:
        inner = databases.Database(url, reset=_keep_session)
        await inner.connect()
        return cls(inner)

    def _transaction(self) -> AbstractAsyncContextManager[None]:
        return _Transaction(self)

    def _target(self) -> asyncpg.Connection | asyncpg.Pool:
        """Where a statement runs: this task's transaction connection, else the pool."""
        held = self._held.get()
        if held is not None and held[0] is asyncio.current_task():
            return held[1]
        return self._pool

    async def fetch_all(self, query: Query, values: Values = None) -> list[dict[str, Any]]:
        compiled = self.compiled(query)
        rows = await self._target().fetch(compiled.sql, *compiled.args(values))
        readers = compiled.readers
        if not readers or len(readers) != len(rows[0] if rows else readers):
            return [dict(row) for row in rows]
        return [
            {
                name: value if reader is None or value is None else reader(value)
                for (name, value), reader in zip(row.items(), readers, strict=True)
            }
            for row in rows
        ]

    async def execute(self, query: Query, values: Values = None) -> None:
        compiled = self.compiled(query)
        await self._target().execute(compiled.sql, *compiled.args(values))

    async def disconnect(self) -> None:
        await self._inner.disconnect()


class _Transaction:
    """`databases`' transaction (a savepoint when nested), noting its raw connection."""

    __slots__ = ("_db", "_inner", "_token")

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self._inner = db._inner.transaction()

    async def __aenter__(self) -> None:
        await self._inner.__aenter__()
        task = asyncio.current_task()
        assert task is not None, "transactions run in a task"
        raw = self._db._inner.connection().raw_connection
        self._token = self._db._held.set((task, raw))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._db._held.reset(self._token)
        await self._inner.__aexit__(exc_type, exc, traceback)
