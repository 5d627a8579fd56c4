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
starts, for the task that started it); outside one, to a `_Lanes` connection. asyncpg's
``Pool.fetch`` costs ~35 us of CPU per statement around the statement itself (a proxy, a
shielded release task, inactivity timers); a lane is taken from a list and put back. The
lanes are connections of their own, opened on first use, at most as many as the pool's
``max_size`` (10 unless the URL says ``?max_size=``); so a process holds up to twice that
many connections.

One connection runs one statement at a time: a task started inside a transaction (by
``asyncio.gather``, say) runs its statements outside it, on pool connections, as it did
with `databases`.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
from collections.abc import Awaitable, Callable
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
        backend: Any = inner._backend  # type: ignore[attr-defined]
        url = inner.url
        options = backend._get_connection_kwargs()
        connect = {
            "host": url.hostname,
            "port": url.port,
            "user": url.username,
            "password": url.password,
            "database": url.database,
            **({"ssl": options["ssl"]} if "ssl" in options else {}),
        }
        self._lanes = _Lanes(lambda: asyncpg.connect(**connect), options.get("max_size", 10))
        # The raw connection of this task's open transaction, with the task it belongs to.
        self._held: contextvars.ContextVar[tuple[asyncio.Task[Any], asyncpg.Connection] | None]
        self._held = contextvars.ContextVar(f"pg_held_{id(self)}", default=None)

    @classmethod
    async def open(cls, url: str) -> PostgresDatabase:
        options: dict[str, Any] = {"reset": _keep_session}
        if "min_size" not in databases.DatabaseURL(url).options:
            # asyncpg opens 10 at once by default; transactions are few (statements outside
            # them run on lanes), so the pool starts with one and grows as they need.
            options["min_size"] = 1
        inner = databases.Database(url, **options)
        await inner.connect()
        return cls(inner)

    def _transaction(self) -> AbstractAsyncContextManager[None]:
        return _Transaction(self)

    def _target(self) -> asyncpg.Connection | _Lanes:
        """Where a statement runs: this task's transaction connection, else a lane."""
        held = self._held.get()
        if held is not None and held[0] is asyncio.current_task():
            return held[1]
        return self._lanes

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

    async def execute_count(self, query: Query, values: Values = None) -> int:
        compiled = self.compiled(query)
        status = await self._target().execute(compiled.sql, *compiled.args(values))
        # The command tag: "INSERT 0 1", "UPDATE 3", "DELETE 0".
        count = status.rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else 0

    async def insert_id(self, query: Query, values: Values = None) -> int:
        return int(await self.fetch_val(query, values))

    async def disconnect(self) -> None:
        await self._lanes.close()
        await self._inner.disconnect()


class _Lanes:
    """Connections for statements outside transactions (each statement its own transaction).

    A statement takes an idle connection, or opens one while fewer than ``size`` are open,
    or waits for one to be put back (first come, first served). A connection comes back to
    the idle list after its statement, even when PostgreSQL refused it (a constraint, say):
    outside a transaction that leaves nothing behind. One that failed otherwise (network,
    cancelled mid-statement), or was closed by the server, is closed and forgotten; its
    place goes to the next statement, which opens a new one.
    """

    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]], size: int) -> None:
        self._connect = connect
        self._size = size
        self._open = 0
        self._idle: list[asyncpg.Connection] = []
        self._waiters: collections.deque[asyncio.Future[asyncpg.Connection | None]]
        self._waiters = collections.deque()
        self._closed = False

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._run(asyncpg.Connection.fetch, sql, args)
        return rows

    async def execute(self, sql: str, *args: Any) -> str:
        status: str = await self._run(asyncpg.Connection.execute, sql, args)
        return status

    async def _run(self, method: Callable[..., Awaitable[Any]], sql: str, args: Any) -> Any:
        idle = self._idle
        conn = idle.pop() if idle and not idle[-1].is_closed() else await self._take()
        try:
            result = await method(conn, sql, *args)
        except asyncpg.PostgresError:
            self._give(conn)
            raise
        except BaseException:
            self._drop(conn)
            raise
        self._give(conn)
        return result

    async def _take(self) -> asyncpg.Connection:
        while True:
            if self._closed:
                raise RuntimeError("the database is disconnected")
            while self._idle:
                conn = self._idle.pop()
                if not conn.is_closed():
                    return conn
                self._drop(conn)  # closed by the server while idle
            if self._open < self._size:
                self._open += 1
                try:
                    return await self._connect()
                except BaseException:
                    self._free_place()
                    raise
            waiter: asyncio.Future[asyncpg.Connection | None]
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                conn = await waiter
            except asyncio.CancelledError:
                # Handed a connection or a place just as this task was cancelled: pass it on.
                if waiter.done() and not waiter.cancelled():
                    handed = waiter.result()
                    if handed is None:
                        self._offer_place()
                    else:
                        self._give(handed)
                raise
            if conn is not None:
                return conn
            # None: a place was freed (a connection dropped); loop to open one.

    def _give(self, conn: asyncpg.Connection) -> None:
        if conn.is_closed() or self._closed:
            self._drop(conn)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def _drop(self, conn: asyncpg.Connection) -> None:
        conn.terminate()
        self._free_place()

    def _free_place(self) -> None:
        self._open -= 1
        self._offer_place()

    def _offer_place(self) -> None:
        """Wake the first waiter, if any, to open a connection in a free place."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        self._open -= len(idle)
        await asyncio.gather(*(conn.close() for conn in idle), return_exceptions=True)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)


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
