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

One connection runs one statement at a time: do not ``asyncio.gather`` queries inside one
transaction (asyncpg refuses it).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
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

    @classmethod
    async def open(cls, url: str) -> PostgresDatabase:
        inner = databases.Database(url, reset=_keep_session)
        await inner.connect()
        return cls(inner)

    def _transaction(self) -> AbstractAsyncContextManager[None]:
        return self._inner.transaction()  # type: ignore[return-value]

    async def fetch_all(self, query: Query, values: Values = None) -> list[dict[str, Any]]:
        compiled = self.compiled(query)
        async with self._inner.connection() as connection:
            rows = await connection.raw_connection.fetch(compiled.sql, *compiled.args(values))
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
        async with self._inner.connection() as connection:
            await connection.raw_connection.execute(compiled.sql, *compiled.args(values))

    async def disconnect(self) -> None:
        await self._inner.disconnect()
