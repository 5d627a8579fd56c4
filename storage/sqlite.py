"""A tuned SQLite backend for the `databases` package.

`databases` 0.9 opens a brand-new aiosqlite connection (and its thread) for every
connection it hands out, runs plain ``BEGIN`` (a deferred transaction) and cannot run
per-connection PRAGMAs. Three things we need differ:

- PRAGMAs (``foreign_keys``, ``synchronous``, ``busy_timeout``) are per connection, so they
  are applied whenever a connection is opened;
- root transactions start with ``BEGIN IMMEDIATE``: a deferred transaction that reads and
  then writes fails at once with SQLITE_BUSY when another writer committed in between (the
  busy timeout does not apply to that upgrade), which would break the quota race;
- opened connections are kept in a small idle pool instead of being closed, which removes
  the per-transaction thread start and file open (see docs/performance.md).

URL query parameters are not appended to the file name (upstream turns
``sqlite:///x.db?timeout=5`` into a file literally called ``x.db?timeout=5``); they are
read as options instead: ``timeout`` (seconds, default 30) and ``pool`` (idle connections
kept, default 8; 0 restores upstream behaviour).
"""

from __future__ import annotations

import typing
import uuid

import aiosqlite
from databases.backends.sqlite import SQLiteBackend, SQLiteConnection, SQLiteTransaction
from databases.core import DatabaseURL

DEFAULT_TIMEOUT = 30.0
DEFAULT_POOL = 8


async def _run(connection: aiosqlite.Connection, statement: str) -> object:
    """Run a statement and close its cursor (an open cursor keeps its lock on the file)."""
    async with connection.execute(statement) as cursor:
        row = await cursor.fetchone()
    return None if row is None else row[0]


class PooledSQLitePool:
    """Opens aiosqlite connections with our PRAGMAs and keeps a few idle ones for reuse."""

    def __init__(self, url: DatabaseURL) -> None:
        self._database = url.database
        options = url.options
        self.timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
        self.keep = int(options.get("pool", DEFAULT_POOL))
        self._idle: list[aiosqlite.Connection] = []
        self._memref = None  # upstream's disconnect() looks at this attribute

    async def _open(self) -> aiosqlite.Connection:
        connection = aiosqlite.connect(
            database=self._database, isolation_level=None, timeout=self.timeout
        )
        await connection.__aenter__()
        # busy_timeout duplicates sqlite3's timeout on purpose: it is what SQLite itself
        # uses while waiting for BEGIN IMMEDIATE.
        for pragma in (
            f"PRAGMA busy_timeout = {int(self.timeout * 1000)}",
            "PRAGMA foreign_keys = ON",
            "PRAGMA synchronous = NORMAL",
        ):
            await _run(connection, pragma)
        return connection

    async def acquire(self) -> aiosqlite.Connection:
        if self._idle:
            return self._idle.pop()
        return await self._open()

    async def release(self, connection: aiosqlite.Connection) -> None:
        if connection.in_transaction:
            # Never hand out a connection in the middle of someone else's transaction.
            await connection.rollback()
        if len(self._idle) < self.keep:
            self._idle.append(connection)
        else:
            await connection.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()


class ImmediateTransaction(SQLiteTransaction):
    """Root transactions take the write lock up front (``BEGIN IMMEDIATE``)."""

    async def start(self, is_root: bool, extra_options: dict[typing.Any, typing.Any]) -> None:
        raw = self._connection._connection
        assert raw is not None, "Connection is not acquired"
        self._is_root = is_root
        if is_root:
            statement = "BEGIN IMMEDIATE"
        else:
            self._savepoint_name = f"SP_{uuid.uuid4().hex}"
            statement = f"SAVEPOINT {self._savepoint_name}"
        async with raw.execute(statement) as cursor:
            await cursor.close()


class GuichetSQLiteConnection(SQLiteConnection):
    def transaction(self) -> ImmediateTransaction:
        return ImmediateTransaction(self)


class GuichetSQLiteBackend(SQLiteBackend):
    """Registered for ``sqlite://`` URLs by ``storage.db``."""

    def __init__(self, database_url: DatabaseURL | str, **options: typing.Any) -> None:
        super().__init__(DatabaseURL(database_url).replace(query=""), **options)
        self._pool = PooledSQLitePool(DatabaseURL(database_url))  # type: ignore[assignment]

    async def connect(self) -> None:
        # journal_mode is stored in the file: setting it once per process is enough.
        connection = await self._pool.acquire()
        try:
            if await _run(connection, "PRAGMA journal_mode") != "wal":
                await _run(connection, "PRAGMA journal_mode = WAL")
        finally:
            await self._pool.release(connection)

    async def disconnect(self) -> None:
        await self._pool.close()  # type: ignore[attr-defined]

    def connection(self) -> GuichetSQLiteConnection:
        return GuichetSQLiteConnection(self._pool, self._dialect)
