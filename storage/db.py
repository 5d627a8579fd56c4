"""The database handle: one narrow API, two tuned drivers.

Callers outside storage/ only get a `Database` from `connect()` and hand it to the storage
functions (plus ``async with db.transaction():`` and the occasional ad-hoc query in
tests); they never see a driver. Rows come back as plain dicts. JSON is stored as text and
timestamps as UTC; `load_json` and `as_utc` turn them back into Python values the same way
on both backends.

Choices, measured with ``bench/storage_commits.py`` (figures in docs/performance.md; one
task, before -> after: SQLite submit 31 -> ~1,800/s, draft load 457 -> ~31,000/s;
PostgreSQL submit 116 -> ~600/s with the two-statement submission of
``storage.pg_submit``, draft load 1,260 -> ~2,900/s):

- **SQLite** (`storage.sqlite`): the embedded, single-process mode. Statements run with the
  stdlib ``sqlite3`` module directly on the event-loop thread: in WAL mode with
  ``synchronous=NORMAL`` a statement costs microseconds, far less than a hop to a worker
  thread (aiosqlite: ~150 us per statement, ~30 per submission). Transactions are
  serialised by an ``asyncio.Lock`` per `Database` and run in a ``BEGIN IMMEDIATE``
  transaction that the transactions ready at the same loop turn share (group commit);
  when another connection (another process, or another `Database` on the same file) holds
  the write lock, SQLite answers SQLITE_BUSY at once (``busy_timeout`` 0, so the loop never
  blocks) and the transaction retries after an ``asyncio.sleep`` backoff. Reads outside a
  transaction use a second long-lived connection, so they never see another task's
  uncommitted writes and never wait behind a transaction.
- **PostgreSQL** (`storage.postgres`): the `databases` package keeps the asyncpg pool and
  the transactions (per task, nested = savepoint); statements go straight to the asyncpg
  connection with SQL compiled once, so asyncpg's per-connection prepared-statement cache
  hits every time.
- **Compiled SQL is cached**: hot statements are module-level `Statement` objects with
  named ``sa.bindparam`` parameters, compiled once per backend (SQLAlchemy compilation
  costs 100-300 us per statement). Ad-hoc ClauseElements are compiled on each call.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.ddl import ExecutableDDLElement

Backend = Literal["sqlite", "postgresql"]
Values = Mapping[str, Any] | None

DIALECTS: dict[Backend, sa.Dialect] = {
    "sqlite": sqlite.dialect(paramstyle="named"),  # type: ignore[no-untyped-call]
    "postgresql": pg_asyncpg.dialect(),  # type: ignore[no-untyped-call]
}


@dataclass(frozen=True)
class Compiled:
    """A statement compiled for one backend, with what it takes to bind and read it."""

    sql: str
    names: tuple[str, ...]  # parameter names, in the order of PostgreSQL's $1, $2...
    defaults: Mapping[str, Any]  # values written in the statement itself
    binders: tuple[tuple[str, Callable[[Any], Any]], ...]
    readers: tuple[Callable[[Any], Any] | None, ...]  # per result column, by position
    is_select: bool

    def params(self, values: Values) -> dict[str, Any]:
        params = dict(self.defaults)
        if values:
            params.update(values)
        for name, binder in self.binders:
            params[name] = binder(params[name])
        return params

    def args(self, values: Values) -> list[Any]:
        params = self.params(values)
        return [params[name] for name in self.names]


def compile_for(query: ClauseElement, backend: Backend) -> Compiled:
    dialect = DIALECTS[backend]
    if isinstance(query, ExecutableDDLElement):
        return Compiled(str(query.compile(dialect=dialect)), (), {}, (), (), False)
    compiled: Any = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    readers = tuple(
        column[3]._cached_result_processor(dialect, None) for column in compiled._result_columns
    )
    return Compiled(
        sql=compiled.string,
        names=tuple(compiled.positiontup or ()),
        defaults=compiled.construct_params(_check=False) or {},
        binders=tuple(compiled._bind_processors.items()),
        readers=readers if any(readers) else (),
        is_select=isinstance(query, sa.Select | sa.CompoundSelect),
    )


class Statement:
    """A hot statement, compiled once per backend: ``await db.fetch_one(STMT, {"id": 3})``.

    Build it from a ClauseElement with ``sa.bindparam`` parameters, or from a function of
    the backend (for the dialect's ``INSERT ... ON CONFLICT``, see `dialect_insert`).
    """

    def __init__(self, query: ClauseElement | Callable[[Backend], ClauseElement]) -> None:
        self._query = query
        self._compiled: dict[Backend, Compiled] = {}

    def compiled(self, backend: Backend) -> Compiled:
        found = self._compiled.get(backend)
        if found is None:
            query = self._query
            if not isinstance(query, ClauseElement):
                query = query(backend)
            found = compile_for(query, backend)
            self._compiled[backend] = found
        return found


class RawStatement(Statement):
    """SQL written by hand for one backend; ``names`` are the parameters of $1, $2... (or
    the ``:name`` parameters on SQLite). For statements SQLAlchemy cannot express well,
    such as PostgreSQL's chains of data-modifying CTEs."""

    def __init__(self, backend: Backend, sql: str, names: Sequence[str]) -> None:
        self._backend = backend
        self._fixed = Compiled(sql, tuple(names), {}, (), (), sql.lstrip().startswith("SELECT"))

    def compiled(self, backend: Backend) -> Compiled:
        if backend != self._backend:
            raise ValueError(f"This statement is written for {self._backend}, not {backend}.")
        return self._fixed


Query = ClauseElement | Statement


def dialect_insert(backend: Backend, table: sa.Table) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_nothing/do_update``."""
    module = sqlite if backend == "sqlite" else postgresql
    return module.insert(table)


def returning_id(insert: sa.Insert, column: sa.Column[int]) -> Callable[[Backend], ClauseElement]:
    """``insert`` for `Database.insert_id`: with ``RETURNING column`` on PostgreSQL, as is on
    SQLite, whose driver reads the new rowid from the cursor (RETURNING would cost a
    temporary table there, see `Database.execute_count`)."""

    def build(backend: Backend) -> ClauseElement:
        return insert.returning(column) if backend == "postgresql" else insert

    return build


def binds(*names: str) -> dict[str, Any]:
    """``{name: sa.bindparam(name)}`` for ``insert().values(**binds(...))``."""
    return {name: sa.bindparam(name) for name in names}


class Database:
    """A connected database. Queries made inside `transaction()` use its connection.

    ``known`` is a per-database memo of facts that, once true, stay true (rows that are
    never deleted, such as definition snapshots), so hot paths can skip redundant writes.
    Add to it with `remember`, never directly: a fact learnt inside a transaction becomes
    known only when the ROOT transaction commits (a savepoint that commits inside an outer
    transaction that rolls back wrote nothing).
    """

    backend: Backend

    def __init__(self) -> None:
        self.known: set[Any] = set()
        # Values read from rows that never change once written, least recently used first
        # (definition snapshots: see `storage.requests.definition_snapshot`).
        self.unchanging: OrderedDict[Any, Any] = OrderedDict()
        # The facts learnt by this task's open transactions, innermost scope last.
        self._pending: contextvars.ContextVar[tuple[list[Any], ...]] = contextvars.ContextVar(
            f"known_pending_{id(self)}", default=()
        )

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """``async with db.transaction():`` commits on success, rolls back on error; nested
        transactions are savepoints."""
        return _Remembering(self, self._transaction())

    def _transaction(self) -> AbstractAsyncContextManager[None]:
        """The driver's transaction (root or savepoint)."""
        raise NotImplementedError

    def remember(self, fact: Any) -> None:
        """Add ``fact`` to `known` once what made it true is committed."""
        scopes = self._pending.get()
        if scopes:
            scopes[-1].append(fact)
        else:
            self.known.add(fact)

    async def fetch_all(self, query: Query, values: Values = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def fetch_one(self, query: Query, values: Values = None) -> dict[str, Any] | None:
        rows = await self.fetch_all(query, values)
        return rows[0] if rows else None

    async def fetch_val(self, query: Query, values: Values = None) -> Any:
        row = await self.fetch_one(query, values)
        return None if row is None else next(iter(row.values()))

    async def execute(self, query: Query, values: Values = None) -> None:
        """Run a statement whose result does not matter."""
        raise NotImplementedError

    async def execute_count(self, query: Query, values: Values = None) -> int:
        """Run an INSERT, UPDATE or DELETE; how many rows it wrote (an INSERT ... DO NOTHING
        that met a conflict: 0). Where only that matters, it costs less than RETURNING, which
        SQLite (3.40) gathers in a temporary table at every run: 25-45 k instructions."""
        raise NotImplementedError

    async def insert_id(self, query: Query, values: Values = None) -> int:
        """Run a one-row INSERT built by `returning_id`; the new row's integer key."""
        raise NotImplementedError

    def compiled(self, query: Query) -> Compiled:
        if isinstance(query, Statement):
            return query.compiled(self.backend)
        return compile_for(query, self.backend)

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which has ``on_conflict_do_nothing/do_update``."""
        return dialect_insert(self.backend, table)

    async def disconnect(self) -> None:
        raise NotImplementedError


class _Remembering:
    """Wraps a driver transaction: facts `remember`ed inside it move to the enclosing scope
    when it succeeds (to `Database.known` for the root, after COMMIT) and are dropped when
    it fails."""

    __slots__ = ("_db", "_inner", "_token")

    def __init__(self, db: Database, inner: AbstractAsyncContextManager[None]) -> None:
        self._db = db
        self._inner = inner

    async def __aenter__(self) -> None:
        await self._inner.__aenter__()
        self._token = self._db._pending.set((*self._db._pending.get(), []))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        db = self._db
        facts = db._pending.get()[-1]
        db._pending.reset(self._token)
        # The driver commits or rolls back first: a failed COMMIT raises here.
        suppressed = await self._inner.__aexit__(exc_type, exc, traceback)
        if exc_type is None and facts:
            outer = db._pending.get()
            if outer:
                outer[-1].extend(facts)
            else:
                db.known.update(facts)
        return suppressed


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
    if backend_of(url) == "sqlite":
        from storage.sqlite import SQLiteDatabase

        return await SQLiteDatabase.open(url)
    from storage.postgres import PostgresDatabase

    return await PostgresDatabase.open(url)


# JSON text: orjson, which encodes and parses several times faster than the stdlib (a
# submission encodes and parses a dozen small documents: its stamps, its draft, its request).
# The text is what the stdlib writes with these options: compact, keys sorted, UTF-8 as is.
# Where orjson refuses a value (an integer beyond 64 bits, a key that is not a string), the
# stdlib writes it, the same way it did before orjson; orjson reads such an integer back as
# a float (a number field turns 1e30 into one: it comes back as 1e30).
_JSON_OPTIONS = orjson.OPT_SORT_KEYS


def dump_json(value: Any, default: Callable[[Any], Any] | None = None) -> str:
    """``value`` as JSON text; ``default`` turns what JSON cannot hold into what it can
    (without it, such a value is a TypeError)."""
    try:
        return orjson.dumps(value, default=default, option=_JSON_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError: the stdlib, with the same options
        stdlib = json.JSONEncoder(
            ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=default
        )
        return stdlib.encode(value)


def load_json(text: str | bytes | None) -> Any:
    return None if text is None else orjson.loads(text)


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
        # PostgreSQL only: on SQLite `bind_processor` binds with `sqlite_timestamp` instead.
        return None if value is None else _aware(value).astimezone(dt.UTC)

    def bind_processor(self, dialect: sa.Dialect) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            # One C call instead of process_bind_param then the SQLite dialect's own
            # %-formatting (a submission binds seven timestamps): the same text,
            # "YYYY-MM-DD HH:MM:SS.ffffff" in UTC, so stored values still sort and compare.
            return sqlite_timestamp
        return super().bind_processor(dialect)


def _aware(value: Any) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValueError(f"Timestamp {value!r} must be a timezone-aware datetime.")
    return value


# The last timestamp bound and its text: a submission binds the same `now` six times.
# Datetimes are immutable, so the same object always gives the same text.
_last_timestamp: tuple[object, str] = (object(), "")


def sqlite_timestamp(value: Any) -> str | None:
    """How SQLite stores a timestamp: naive UTC text, microseconds always written."""
    global _last_timestamp
    if value is None:
        return None
    last = _last_timestamp
    if value is last[0]:
        return last[1]
    utc = _aware(value).astimezone(dt.UTC).replace(tzinfo=None)
    text = utc.isoformat(" ", "microseconds")
    _last_timestamp = (value, text)
    return text
