"""Requests: submission all or nothing, tracking tokens, history, cancellation.

`submit` writes, all or nothing: the definition snapshot (if new), the quota claim, the
reference, the request, its first event, its pieces and files, and the acknowledgement in
the outbox (a template row that the mail worker composes from the stored request, see
`storage.outbox`), and deletes the draft the request came from. On SQLite that is ONE
transaction, which any exception (QuotaReached included) rolls back; on PostgreSQL ONE
statement (`storage.pg_submit`).

Quota: one counter row per (procedure, period, scope), claimed by ``UPDATE ... SET count =
count + 1 WHERE ... AND count < max`` (a row written: the place is taken), else, for a
period's first claim or a full quota, by ``INSERT (count 1) ON CONFLICT DO UPDATE SET count =
count + 1 WHERE count < max RETURNING count``. On PostgreSQL the row is locked and the WHERE
is evaluated on its latest version; on SQLite ``BEGIN IMMEDIATE`` serialises writers.
Either way the quota can never be exceeded, without counting requests. The reference
counter is bumped the same way (UPDATE, then read; the upsert for a year's first). On
PostgreSQL the submission uses the upserts in its one statement. Hot statements are
module-level `Statement` objects, compiled once per backend.

Tracking token: ``secrets.token_urlsafe(32)`` (256 bits); the request keeps only its
SHA-256. The token itself stays in the acknowledgement's outbox row until that mail is sent
(then it is cleared with the mail's bodies): the mail must carry the link.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from storage import drafts, pg_submit
from storage.db import (
    Backend,
    Database,
    Statement,
    UtcDateTime,
    as_utc,
    binds,
    dialect_insert,
    dump_json,
    load_json,
    returning_id,
)
from storage.outbox import ACK, queue_template
from storage.tables import (
    definition_versions,
    piece_files,
    pieces,
    quota_counters,
    reference_counters,
    request_events,
    requests,
)

PARIS = ZoneInfo("Europe/Paris")
REFERENCE_PREFIX = "DEM"


class QuotaReached(Exception):
    """The procedure's quota for this period is full; nothing was written."""


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class Piece:
    document_type: str
    label: str
    files: list[StoredFile]


@dataclass(frozen=True)
class QuotaClaim:
    period_key: str
    scope_key: str
    max: int


class DraftRef(NamedTuple):
    session_id: str
    rev: str


@dataclass
class NewRequest:
    procedure_id: str
    version: str
    snapshot: dict[str, Any]
    state: str
    applicant: dict[str, Any]
    data: dict[str, Any]
    pieces: list[Piece]
    appointment: dict[str, Any] | None = None
    account_id: int | None = None
    quota: QuotaClaim | None = None
    # The draft of this procedure that became this request (browser session, revision): it
    # is deleted with the submission, and kept when it fails or the quota is full. Only that
    # revision becomes a request: `drafts.DraftConflict` (nothing written) when the stored
    # draft is another one or gone, e.g. already submitted by a first click on "Valider".
    draft: DraftRef | None = None
    # Where the acknowledgement goes (None or "": no acknowledgement).
    ack_to: str | None = None


@dataclass(frozen=True)
class Submitted:
    id: int
    reference: str
    token: str


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    kind: str
    actor_kind: str
    actor_id: int | None
    data: dict[str, Any]


@dataclass
class TrackedRequest:
    id: int
    reference: str
    procedure_id: str
    version: str
    state: str
    applicant: dict[str, Any]
    data: dict[str, Any]
    appointment: dict[str, Any] | None
    account_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    cancelled_at: dt.datetime | None
    snapshot: dict[str, Any]  # shared with other requests of this version: read only
    events: list[Event] = field(default_factory=list)
    pieces: list[Piece] = field(default_factory=list)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def format_reference(year: int, number: int) -> str:
    return f"{REFERENCE_PREFIX}-{year}-{number:06d}"


def _claim_quota(backend: Backend) -> Any:
    # Insert-or-increment in one statement: the row lock (PostgreSQL) or the write lock
    # (SQLite) makes the WHERE see the latest count; no row comes back when it is full.
    # Only for a period's first claim and a full quota: see `claim_quota`.
    c = quota_counters.c
    insert = dialect_insert(backend, quota_counters).values(
        **binds("procedure_id", "period_key", "scope_key"), count=1
    )
    return insert.on_conflict_do_update(
        index_elements=["procedure_id", "period_key", "scope_key"],
        set_={"count": c.count + 1},
        where=c.count < sa.bindparam("max"),
    ).returning(c.count)


def _quota_counter() -> sa.ColumnElement[bool]:
    """The counter row of (procedure_id, period_key, scope_key)."""
    c = quota_counters.c
    return sa.and_(
        c.procedure_id == sa.bindparam("procedure_id"),
        c.period_key == sa.bindparam("period_key"),
        c.scope_key == sa.bindparam("scope_key"),
    )


def _next_reference(backend: Backend) -> Any:
    # A year's first reference (see `next_reference`).
    c = reference_counters.c
    insert = dialect_insert(backend, reference_counters).values(year=sa.bindparam("year"), last=1)
    return insert.on_conflict_do_update(
        index_elements=["year"], set_={"last": c.last + 1}
    ).returning(c.last)


def _keep_definition(backend: Backend) -> Any:
    insert = dialect_insert(backend, definition_versions).values(
        **binds("procedure_id", "version", "snapshot", "first_used_at")
    )
    return insert.on_conflict_do_nothing(index_elements=["procedure_id", "version"])


def _by(where: sa.ColumnElement[bool]) -> sa.Select[Any]:
    return sa.select(requests).where(where)


_REQUEST_COLUMNS = (
    "reference",
    "procedure_id",
    "version",
    "state",
    "applicant",
    "data",
    "appointment",
    "account_id",
    "token_hash",
    "created_at",
    "updated_at",
)
# Hot statements, compiled once per backend (see storage.db). The counters are bumped by a
# plain UPDATE, the ids read from the driver: RETURNING costs a temporary table per run on
# SQLite (`Database.execute_count`).
CLAIM_QUOTA = Statement(_claim_quota)
TAKE_PLACE = Statement(
    quota_counters.update()
    .where(_quota_counter(), quota_counters.c.count < sa.bindparam("max"))
    .values(count=quota_counters.c.count + 1)
)
NEXT_REFERENCE = Statement(_next_reference)
BUMP_REFERENCE = Statement(
    reference_counters.update()
    .where(reference_counters.c.year == sa.bindparam("year"))
    .values(last=reference_counters.c.last + 1)
)
LAST_REFERENCE = Statement(
    sa.select(reference_counters.c.last).where(reference_counters.c.year == sa.bindparam("year"))
)
KEEP_DEFINITION = Statement(_keep_definition)
INSERT_REQUEST = Statement(
    returning_id(requests.insert().values(**binds(*_REQUEST_COLUMNS)), requests.c.id)
)
INSERT_EVENT = Statement(
    request_events.insert().values(
        **binds("request_id", "at", "kind", "actor_kind", "actor_id", "data")
    )
)
INSERT_PIECE = Statement(
    returning_id(
        pieces.insert().values(
            **binds("request_id", "account_id", "document_type", "label", "created_at")
        ),
        pieces.c.id,
    )
)
INSERT_PIECE_FILE = Statement(
    piece_files.insert().values(
        **binds("piece_id", "position", "sha256", "filename", "content_type", "size")
    )
)
CANCEL = Statement(
    requests.update()
    .where(requests.c.id == sa.bindparam("id"), requests.c.state == sa.bindparam("from_state"))
    .values(
        state=sa.bindparam("to_state"),
        updated_at=sa.bindparam("now", type_=UtcDateTime),
        cancelled_at=sa.bindparam("now", type_=UtcDateTime),
    )
    .returning(requests.c.id)
)
QUOTA_USED = Statement(sa.select(quota_counters.c.count).where(_quota_counter()))
APPLICANT_OF = Statement(
    sa.select(requests.c.procedure_id, requests.c.applicant).where(
        requests.c.reference == sa.bindparam("reference")
    )
)
BY_TOKEN_HASH = Statement(_by(requests.c.token_hash == sa.bindparam("token_hash")))
BY_ID = Statement(_by(requests.c.id == sa.bindparam("id")))
SNAPSHOT = Statement(
    sa.select(definition_versions.c.snapshot).where(
        definition_versions.c.procedure_id == sa.bindparam("procedure_id"),
        definition_versions.c.version == sa.bindparam("version"),
    )
)
SNAPSHOT_CACHE_SIZE = 64
EVENTS = Statement(
    sa.select(request_events)
    .where(request_events.c.request_id == sa.bindparam("request_id"))
    .order_by(request_events.c.at, request_events.c.id)
)
PIECES = Statement(
    sa.select(pieces.c.id, pieces.c.document_type, pieces.c.label, piece_files)
    .join(piece_files, piece_files.c.piece_id == pieces.c.id, isouter=True)
    .where(pieces.c.request_id == sa.bindparam("request_id"))
    .order_by(pieces.c.id, piece_files.c.position)
)


class Applicant(NamedTuple):
    procedure_id: str
    applicant: dict[str, Any]


async def applicant_of(db: Database, reference: str) -> Applicant | None:
    """The procedure and applicant of the request ``reference`` (None: no such request)."""
    row = await db.fetch_one(APPLICANT_OF, {"reference": reference})
    if row is None:
        return None
    return Applicant(row["procedure_id"], load_json(row["applicant"]))


async def claim_quota(db: Database, procedure_id: str, claim: QuotaClaim) -> None:
    """Take one place or raise `QuotaReached`; call inside a transaction."""
    if claim.max > 0:
        values = {
            "procedure_id": procedure_id,
            "period_key": claim.period_key,
            "scope_key": claim.scope_key,
            "max": claim.max,
        }
        # Usually the period's counter exists and has room: one UPDATE takes the place (its
        # WHERE is evaluated on the latest count, under the row or write lock).
        if await db.execute_count(TAKE_PLACE, values):
            return
        # No counter yet (the period's first claim), or the quota is full.
        if await db.fetch_val(CLAIM_QUOTA, values) is not None:
            return
    raise QuotaReached(procedure_id, claim.period_key, claim.scope_key)


async def next_reference(db: Database, now: dt.datetime) -> str:
    """The next ``DEM-<year>-<number>``; the year is the Paris year. Inside a transaction,
    which holds the counter's row (PostgreSQL) or the write lock (SQLite) from the UPDATE on,
    so the SELECT reads this transaction's own number."""
    year = now.astimezone(PARIS).year
    if await db.execute_count(BUMP_REFERENCE, {"year": year}):
        number = await db.fetch_val(LAST_REFERENCE, {"year": year})
    else:  # the year's first request
        number = await db.fetch_val(NEXT_REFERENCE, {"year": year})
    return format_reference(year, int(number))


async def submit(db: Database, new: NewRequest, now: dt.datetime) -> Submitted:
    """Store a new request and everything that goes with it, all or nothing.

    The acknowledgement to ``new.ack_to`` is queued for the mail worker, which composes it
    with the tracking link (``Submitted.token``). `QuotaReached` when the quota is full.
    """
    token = secrets.token_urlsafe(32)
    # Definition snapshots are never deleted: once one is known stored, skip its upsert
    # (and the JSON dump of the whole snapshot). Known only once the root transaction
    # commits (a caller may wrap this one in its own transaction).
    known = ("definition_version", new.procedure_id, new.version)
    store_definition = known not in db.known
    if db.backend == "postgresql":
        request_id, reference = await _submit_postgres(db, new, now, token, store_definition)
    else:
        async with db.transaction():
            if new.draft is not None:
                # First: nothing else is written unless that revision was still there.
                session_id, rev = new.draft
                if not await drafts.delete_draft(db, session_id, new.procedure_id, rev):
                    raise drafts.DraftConflict(new.procedure_id, *new.draft)
            if store_definition:
                await db.execute(KEEP_DEFINITION, _definition_values(new, now))
            if new.quota is not None:
                await claim_quota(db, new.procedure_id, new.quota)
            reference = await next_reference(db, now)
            values = _request_values(new, reference, hash_token(token), now)
            request_id = await db.insert_id(INSERT_REQUEST, values)
            await add_event(db, request_id, "submitted", now=now, actor_kind="citizen")
            for piece in new.pieces:
                await add_piece(db, piece, now=now, request_id=request_id)
            if new.ack_to:
                await queue_template(db, ACK, request_id, new.ack_to, token, now)
    if store_definition:
        db.remember(known)
    return Submitted(id=request_id, reference=reference, token=token)


async def _submit_postgres(
    db: Database,
    new: NewRequest,
    now: dt.datetime,
    token: str,
    store_definition: bool,
) -> tuple[int, str]:
    """One statement (see `storage.pg_submit`)."""
    claim = new.quota
    if claim is not None and claim.max <= 0:
        raise QuotaReached(new.procedure_id, claim.period_key, claim.scope_key)
    year = now.astimezone(PARIS).year
    values = _request_values(new, "", hash_token(token), now)  # the statement sets reference
    values["year"] = year
    values["prefix"] = format_reference(year, 0).removesuffix("000000")
    values["snapshot"] = dump_json(new.snapshot) if store_definition else None
    if claim is not None:
        values.update(period_key=claim.period_key, scope_key=claim.scope_key, max=claim.max)
    ack = (new.ack_to, token) if new.ack_to else None
    done = await pg_submit.submit(db, values, claim is not None, new.pieces, ack, new.draft, now)
    if done is None:
        assert claim is not None, "only a full quota stops the statement"
        raise QuotaReached(new.procedure_id, claim.period_key, claim.scope_key)
    return done


def _definition_values(new: NewRequest, now: dt.datetime) -> dict[str, Any]:
    return {
        "procedure_id": new.procedure_id,
        "version": new.version,
        "snapshot": dump_json(new.snapshot),
        "first_used_at": now,
    }


def _request_values(
    new: NewRequest, reference: str, token_hash: str, now: dt.datetime
) -> dict[str, Any]:
    return {
        "reference": reference,
        "procedure_id": new.procedure_id,
        "version": new.version,
        "state": new.state,
        "applicant": dump_json(new.applicant),
        "data": dump_json(new.data),
        "appointment": None if new.appointment is None else dump_json(new.appointment),
        "account_id": new.account_id,
        "token_hash": token_hash,
        "created_at": now,
        "updated_at": now,
    }


async def add_piece(
    db: Database,
    piece: Piece,
    *,
    now: dt.datetime,
    request_id: int | None = None,
    account_id: int | None = None,
) -> int:
    """Store a piece and its files for a request or a citizen's storage; return its id."""
    values = {
        "request_id": request_id,
        "account_id": account_id,
        "document_type": piece.document_type,
        "label": piece.label,
        "created_at": now,
    }
    piece_id = await db.insert_id(INSERT_PIECE, values)
    for position, stored in enumerate(piece.files, start=1):
        values = {
            "piece_id": piece_id,
            "position": position,
            "sha256": stored.sha256,
            "filename": stored.filename,
            "content_type": stored.content_type,
            "size": stored.size,
        }
        await db.execute(INSERT_PIECE_FILE, values)
    return piece_id


async def add_event(
    db: Database,
    request_id: int,
    kind: str,
    *,
    now: dt.datetime,
    actor_kind: str = "system",
    actor_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Append an event to a request's history."""
    values = {
        "request_id": request_id,
        "at": now,
        "kind": kind,
        "actor_kind": actor_kind,
        "actor_id": actor_id,
        "data": dump_json(data or {}),
    }
    await db.execute(INSERT_EVENT, values)


async def cancel(
    db: Database,
    request_id: int,
    *,
    from_state: str,
    to_state: str,
    now: dt.datetime,
    actor: str = "citizen",
) -> bool:
    """Move the request from ``from_state`` to ``to_state`` and record a "cancelled" event.

    Returns False (and writes nothing) when the request is no longer in ``from_state``,
    e.g. cancelled twice at once or processed by an agent meanwhile.
    """
    values = {"id": request_id, "from_state": from_state, "to_state": to_state, "now": now}
    async with db.transaction():
        if await db.fetch_val(CANCEL, values) is None:
            return False
        data = {"from": from_state, "to": to_state}
        await add_event(db, request_id, "cancelled", now=now, actor_kind=actor, data=data)
    return True


async def quota_used(db: Database, procedure_id: str, period_key: str, scope_key: str) -> int:
    values = {"procedure_id": procedure_id, "period_key": period_key, "scope_key": scope_key}
    return int(await db.fetch_val(QUOTA_USED, values) or 0)


_QUOTA_USED_MANY: dict[int, Statement] = {}


def _quota_used_many(count: int) -> Statement:
    """The counts of ``count`` (procedure, period) counters of one scope, in one SELECT."""
    found = _QUOTA_USED_MANY.get(count)
    if found is None:
        c = quota_counters.c
        wanted = [
            sa.and_(c.procedure_id == sa.bindparam(f"p{i}"), c.period_key == sa.bindparam(f"k{i}"))
            for i in range(count)
        ]
        query = sa.select(c.procedure_id, c.period_key, c.count).where(
            c.scope_key == sa.bindparam("scope_key"), sa.or_(*wanted)
        )
        found = _QUOTA_USED_MANY[count] = Statement(query)
    return found


async def quota_used_many(
    db: Database, counters: Sequence[tuple[str, str]], scope_key: str
) -> dict[tuple[str, str], int]:
    """``quota_used`` of several (procedure id, period key) counters of ``scope_key``, in
    one query (a catalogue page's "Complet" badges). Counters never used are 0."""
    wanted = list(dict.fromkeys(counters))
    if not wanted:
        return {}
    values: dict[str, Any] = {"scope_key": scope_key}
    for i, (procedure_id, period_key) in enumerate(wanted):
        values[f"p{i}"], values[f"k{i}"] = procedure_id, period_key
    rows = await db.fetch_all(_quota_used_many(len(wanted)), values)
    used = dict.fromkeys(wanted, 0)
    for row in rows:
        used[(row["procedure_id"], row["period_key"])] = int(row["count"])
    return used


async def get_by_token(db: Database, token: str) -> TrackedRequest | None:
    """The request whose tracking token is ``token``, or None."""
    return await _load(db, await db.fetch_one(BY_TOKEN_HASH, {"token_hash": hash_token(token)}))


async def get_request(
    db: Database, request_id: int, *, events: bool = True
) -> TrackedRequest | None:
    """The request ``request_id``, or None. ``events=False``: its history is not read (the
    returned ``events`` is empty), for callers that do not show it."""
    return await _load(db, await db.fetch_one(BY_ID, {"id": request_id}), events)


async def _load(
    db: Database, row: dict[str, Any] | None, events: bool = True
) -> TrackedRequest | None:
    if row is None:
        return None
    return TrackedRequest(
        id=row["id"],
        reference=row["reference"],
        procedure_id=row["procedure_id"],
        version=row["version"],
        state=row["state"],
        applicant=load_json(row["applicant"]),
        data=load_json(row["data"]),
        appointment=load_json(row["appointment"]),
        account_id=row["account_id"],
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
        cancelled_at=as_utc(row["cancelled_at"]),
        snapshot=await definition_snapshot(db, row["procedure_id"], row["version"]),
        events=await load_events(db, row["id"]) if events else [],
        pieces=await load_pieces(db, row["id"]),
    )


async def definition_snapshot(db: Database, procedure_id: str, version: str) -> dict[str, Any]:
    """The stored snapshot of a definition version, shared: callers must not change it.

    A version is the hash of its definition's content and its row is never updated or
    deleted, so a snapshot read once is kept in memory (``db.unchanging``, the
    `SNAPSHOT_CACHE_SIZE` most recently used): tracking pages skip reading and parsing it.
    """
    cache = db.unchanging
    key = ("definition_snapshot", procedure_id, version)
    found: dict[str, Any] | None = cache.get(key)
    if found is None:
        text = await db.fetch_val(SNAPSHOT, {"procedure_id": procedure_id, "version": version})
        found = cache[key] = load_json(text)
        if len(cache) > SNAPSHOT_CACHE_SIZE:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return found


def _utc(value: Any) -> dt.datetime:
    converted = as_utc(value)
    assert converted is not None
    return converted


async def load_events(db: Database, request_id: int) -> list[Event]:
    rows = await db.fetch_all(EVENTS, {"request_id": request_id})
    return [
        Event(
            at=_utc(r["at"]),
            kind=r["kind"],
            actor_kind=r["actor_kind"],
            actor_id=r["actor_id"],
            data=load_json(r["data"]),
        )
        for r in rows
    ]


async def load_pieces(db: Database, request_id: int) -> list[Piece]:
    found: dict[int, Piece] = {}
    for r in await db.fetch_all(PIECES, {"request_id": request_id}):
        piece = found.setdefault(r["id"], Piece(r["document_type"], r["label"], []))
        if r["sha256"] is not None:
            piece.files.append(StoredFile(r["sha256"], r["filename"], r["content_type"], r["size"]))
    return list(found.values())
