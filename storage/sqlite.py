"""The SQLite driver: the stdlib ``sqlite3`` module, run on the event-loop thread.

Why not a worker thread (aiosqlite, as `databases` does): in WAL mode with
``synchronous=NORMAL`` a statement costs a few microseconds, while each hop to a worker
thread and back costs ~150 us, and a submission runs ~15 statements. SQLite is the
embedded, single-process mode (one uvicorn process), so the loop thread can own the file.

Two long-lived connections per `SQLiteDatabase`:

- the *writer* runs every transaction. An ``asyncio.Lock`` serialises the transactions of
  this process (each task's nesting depth lives in a ContextVar: a nested transaction is a
  SAVEPOINT). The writer's SQLite transaction starts with ``BEGIN IMMEDIATE``: a deferred
  transaction that reads then writes would fail with SQLITE_BUSY as soon as another writer
  committed in between (the busy timeout does not cover that upgrade), which would break
  the quota race. Root transactions that are ready at the same turn of the event loop
  share that SQLite transaction, each in a savepoint of its own, and one COMMIT (group
  commit, see `_Transaction`). A write made outside any transaction is wrapped in one.
- the *reader* runs SELECTs made outside a transaction: WAL readers never wait for the
  writer, and they never see another task's uncommitted rows.

``busy_timeout`` is 0 on purpose: a busy wait inside SQLite would block the event loop,
and when the lock holder is another `Database` in the same process (tests open 50 on one
file) it could never release the lock meanwhile. SQLITE_BUSY on ``BEGIN IMMEDIATE`` (or on
a read) is retried after an ``asyncio.sleep`` with exponential backoff, for at most the
URL's ``timeout`` seconds (default 30). Once ``BEGIN IMMEDIATE`` succeeded, the
transaction holds the write lock and its statements do not meet SQLITE_BUSY.

URL: ``sqlite:///relative/path.sqlite3`` or ``sqlite:////absolute/path``; query options:
``timeout`` (seconds). ``pool`` is accepted and ignored (the previous driver's option).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import random
import sqlite3
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from storage.db import Compiled, Database, Query, Values

DEFAULT_TIMEOUT = 30.0
# Checkpoints leave the commit path: a background thread copies the WAL into the database
# every CHECKPOINT_EVERY seconds; SQLite's own automatic checkpoint (run by the COMMIT that
# crosses the threshold, on the event-loop thread) only remains as a safety net.
CHECKPOINT_EVERY = 0.5
AUTOCHECKPOINT_PAGES = 20_000
FIRST_DELAY = 0.0005
MAX_DELAY = 0.02
BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}

T = TypeVar("T")


def parse_url(url: str) -> tuple[str, float]:
    """The file path and the lock timeout of a ``sqlite:///...`` URL."""
    parts = urlsplit(url)
    path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
    options = parse_qs(parts.query)
    timeout = float(options.get("timeout", [DEFAULT_TIMEOUT])[0])
    return path or ":memory:", timeout


def is_busy(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.OperationalError) and code is not None and code & 0xFF in BUSY


def _open(path: str) -> sqlite3.Connection:
    """A configured connection; its first statements may meet SQLITE_BUSY (a connection
    recovering or checkpointing the WAL): open it through `retry_busy`."""
    connection = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=0, cached_statements=256
    )
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("PRAGMA synchronous = NORMAL")
        # Savepoint journals (each root transaction is a savepoint of a group) stay in memory.
        connection.execute("PRAGMA temp_store = MEMORY")
    except BaseException:
        connection.close()
        raise
    return connection


async def retry_busy(attempt: Callable[[], T], timeout: float) -> T:
    """``attempt()``, retried with a non-blocking backoff while the file is locked."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = FIRST_DELAY
    while True:
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or loop.time() >= deadline:
                raise
        await asyncio.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, MAX_DELAY)


def run(connection: sqlite3.Connection, compiled: Compiled, values: Values) -> list[dict[str, Any]]:
    """Run one statement to completion (which releases its read snapshot) and read its rows."""
    cursor = connection.execute(compiled.sql, compiled.params(values))
    try:
        description = cursor.description
        rows = cursor.fetchall() if description is not None else []
    finally:
        cursor.close()
    if not rows:
        return []
    names = [column[0] for column in description]
    readers = compiled.readers
    if len(readers) != len(names):
        return [dict(zip(names, row, strict=True)) for row in rows]
    return [
        {
            name: value if reader is None or value is None else reader(value)
            for name, value, reader in zip(names, row, readers, strict=True)
        }
        for row in rows
    ]


def write(connection: sqlite3.Connection, compiled: Compiled, values: Values) -> sqlite3.Cursor:
    """Run a statement that returns no rows; the closed cursor keeps ``rowcount`` (rows
    written) and ``lastrowid``."""
    cursor = connection.execute(compiled.sql, compiled.params(values))
    cursor.close()
    return cursor


class SQLiteDatabase(Database):
    backend = "sqlite"

    def __init__(self, path: str, timeout: float, writer: sqlite3.Connection) -> None:
        super().__init__()
        self.path = path
        self.timeout = timeout
        self._writer = writer
        self._reader = self._writer
        self._lock = asyncio.Lock()
        self._checkpointer: asyncio.Task[None] | None = None
        self._group: _Group | None = None  # the open group commit, if any
        # This task's transaction depth on this database (0: not in a transaction).
        self._depth: contextvars.ContextVar[int] = contextvars.ContextVar(
            f"sqlite_depth_{id(self)}", default=0
        )

    @classmethod
    async def open(cls, url: str) -> SQLiteDatabase:
        path, timeout = parse_url(url)
        db = cls(path, timeout, await retry_busy(lambda: _open(path), timeout))
        try:
            # journal_mode is stored in the file; switching needs a moment of exclusive lock.
            await db.retry_busy(db._use_wal)
            if path != ":memory:":
                db._reader = await db.retry_busy(lambda: _open(path))
                db._writer.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
                db._checkpointer = asyncio.create_task(_checkpoint_forever(path))
        except BaseException:
            db._writer.close()
            raise
        return db

    def _use_wal(self) -> None:
        if self._writer.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self._writer.execute("PRAGMA journal_mode = WAL").fetchall()

    async def retry_busy(self, attempt: Callable[[], T]) -> T:
        """``attempt()``, retried while the file is locked, for at most the URL's timeout."""
        return await retry_busy(attempt, self.timeout)

    def _transaction(self) -> _Transaction:
        return _Transaction(self)

    async def fetch_all(self, query: Query, values: Values = None) -> list[dict[str, Any]]:
        compiled = self.compiled(query)
        if self._depth.get():
            return run(self._writer, compiled, values)
        if compiled.is_select:
            return await self.retry_busy(lambda: run(self._reader, compiled, values))
        async with _Transaction(self):
            return run(self._writer, compiled, values)

    async def execute(self, query: Query, values: Values = None) -> None:
        await self.fetch_all(query, values)

    async def _write(self, query: Query, values: Values) -> sqlite3.Cursor:
        compiled = self.compiled(query)
        if self._depth.get():
            return write(self._writer, compiled, values)
        async with _Transaction(self):
            return write(self._writer, compiled, values)

    async def execute_count(self, query: Query, values: Values = None) -> int:
        return (await self._write(query, values)).rowcount

    async def insert_id(self, query: Query, values: Values = None) -> int:
        rowid = (await self._write(query, values)).lastrowid
        assert rowid is not None, "an INSERT sets the cursor's lastrowid"
        return rowid

    def _commit_soon(self, group: _Group) -> None:
        """COMMIT ``group`` now if no transaction holds the lock, else once it is free.

        Called by ``loop.call_soon`` (no task to create when nothing waits): it runs after
        the callbacks that were ready when the group's first member finished, so the
        transactions they start join the group first.
        """
        if self._lock.locked():  # a transaction suspended inside itself: wait for it
            group.waiter = asyncio.get_running_loop().create_task(self._commit_locked(group))
            return
        self._commit_now(group)

    async def _commit_locked(self, group: _Group) -> None:
        async with self._lock:
            self._commit_now(group)

    def _commit_now(self, group: _Group) -> None:
        if self._group is not group:
            return  # already ended (rolled back by SQLite)
        try:
            self._writer.execute("COMMIT")
        except Exception as error:  # the members raise it
            self._end_group(group, error)
            return
        self._group = None
        group.finish(None)

    def _end_group(self, group: _Group, error: BaseException) -> None:
        """Roll ``group`` back: every member that succeeded gets ``error``."""
        if self._writer.in_transaction:
            self._writer.execute("ROLLBACK")
        if self._group is group:
            self._group = None
        group.finish(error)

    async def disconnect(self) -> None:
        group = self._group
        if group is not None:  # let the pending commit finish
            with contextlib.suppress(Exception):
                await group.wait()
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
        if self._reader is not self._writer:
            self._reader.close()
        self._writer.close()


async def _checkpoint_forever(path: str) -> None:
    """Run ``wal_checkpoint(PASSIVE)`` in a worker thread, on a connection of its own.

    PASSIVE never waits for readers or the writer (it copies what it can and stops), and
    sqlite3 releases the GIL inside SQLite, so the loop keeps serving meanwhile. A
    checkpoint every half second also copies a hot page (a counter, an index root) once
    for many commits, where the automatic one at 1,000 pages ran every ~100 submissions.
    """
    # One worker thread: the connection is only ever used there, and closing it waits for
    # a checkpoint still running when the task is cancelled.
    loop = asyncio.get_running_loop()
    worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sqlite-checkpoint")
    connection: sqlite3.Connection | None = None
    try:
        while True:
            await asyncio.sleep(CHECKPOINT_EVERY)
            # Busy (opening too: another connection may be recovering the WAL), or file gone:
            # try again at the next round.
            with contextlib.suppress(sqlite3.OperationalError):
                if connection is None:
                    connection = await loop.run_in_executor(worker, _open, path)
                await loop.run_in_executor(worker, _passive_checkpoint, connection)
    finally:
        if connection is not None:
            worker.submit(connection.close)
        worker.shutdown(wait=False)


def _passive_checkpoint(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


class _Group:
    """Root transactions sharing one BEGIN IMMEDIATE ... COMMIT (group commit)."""

    __slots__ = ("ended", "error", "scheduled", "waiter", "waiting")

    def __init__(self) -> None:
        # One future per member that waits for the COMMIT: cancelling one request's wait
        # leaves the others' alone (cheaper than asyncio.shield around a shared future).
        self.waiting: list[asyncio.Future[None]] = []
        self.ended = False
        self.error: BaseException | None = None
        self.scheduled = False  # the COMMIT is scheduled (by the first member to finish)
        self.waiter: asyncio.Task[None] | None = None  # kept: the loop holds tasks weakly

    def wait(self) -> asyncio.Future[None]:
        """A future done when the group's COMMIT is (with its error if it failed)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.ended:
            self._settle(future)
        else:
            self.waiting.append(future)
        return future

    def finish(self, error: BaseException | None) -> None:
        if self.ended:
            return
        self.ended, self.error = True, error
        for future in self.waiting:
            self._settle(future)
        self.waiting.clear()

    def _settle(self, future: asyncio.Future[None]) -> None:
        if future.done():  # its member was cancelled while waiting
            return
        if self.error is None:
            future.set_result(None)
        else:
            future.set_exception(self.error)


class _Transaction:
    """A root transaction (lock + savepoint in the group's transaction) or, nested in the
    same task, a savepoint.

    Group commit: the COMMIT (with its WAL writes, about a quarter of a millisecond) is the
    largest single cost of a submission, and its pages (table and index tails, counters)
    are mostly the same from one transaction to the next. So a root transaction does not
    COMMIT by itself: the first one opens the writer's transaction (``BEGIN IMMEDIATE``)
    and schedules the commit on the next turn of the event loop; every root transaction
    that starts before it runs becomes a savepoint in the same SQLite transaction (the
    first one needs none: it is alone in the transaction until it ends). A member that
    fails rolls back to its own savepoint (the others are untouched); a member that
    succeeds returns only once the COMMIT is done, and raises if the COMMIT fails (then the
    whole group is rolled back, so nothing is half-written). With one request at a time
    this is a plain commit one loop turn later; under concurrency, one commit serves every
    transaction that was ready at the same time.
    """

    __slots__ = ("_db", "_group", "_savepoint", "_token")

    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db
        self._savepoint: str | None = None
        self._group: _Group | None = None

    async def __aenter__(self) -> None:
        db = self._db
        depth = db._depth.get()
        if depth == 0:
            await db._lock.acquire()
            try:
                if db._group is None:
                    # The group's first member needs no savepoint: until it ends, nobody
                    # else is in the transaction, so its failure rolls back the whole.
                    await db.retry_busy(lambda: db._writer.execute("BEGIN IMMEDIATE"))
                    db._group = _Group()
                else:
                    self._savepoint = "member"
                self._group = db._group
            except BaseException:
                db._lock.release()
                raise
        else:
            self._savepoint = f"sp_{depth}"
        if self._savepoint is not None:
            db._writer.execute(f"SAVEPOINT {self._savepoint}")
        self._token = db._depth.set(depth + 1)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        db = self._db
        db._depth.reset(self._token)
        writer = db._writer
        group = self._group
        if group is None:  # a nested savepoint
            if exc_type is not None:
                writer.execute(f"ROLLBACK TO {self._savepoint}")
            writer.execute(f"RELEASE {self._savepoint}")
            return
        try:
            if self._savepoint is None:  # the first member
                if exc_type is not None:
                    db._end_group(group, exc or RuntimeError("transaction failed"))
            elif writer.in_transaction:
                if exc_type is not None:
                    writer.execute("ROLLBACK TO member")
                writer.execute("RELEASE member")
        except BaseException as error:
            db._end_group(group, error)
            raise
        finally:
            if db._group is group:
                if not writer.in_transaction:
                    # SQLite rolled the whole transaction back (disk full, I/O error...).
                    db._end_group(group, sqlite3.OperationalError("transaction rolled back"))
                elif not group.scheduled:
                    group.scheduled = True
                    asyncio.get_running_loop().call_soon(db._commit_soon, group)
            db._lock.release()
        if exc_type is None:
            # A cancelled wait cancels only this member's future: the commit goes on.
            await group.wait()
