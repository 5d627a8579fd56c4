"""Requests: submission in one transaction, tracking tokens, history, cancellation.

`submit` writes, in ONE transaction: the definition snapshot (if new), the quota claim, the
reference, the request, its first event, its pieces and files, and the acknowledgement mail
in the outbox. Any exception (QuotaReached included) rolls all of it back.

Quota: one counter row per (procedure, period, scope), claimed with
``UPDATE ... SET count = count + 1 WHERE ... AND count < max RETURNING count``. On
PostgreSQL the row lock serialises concurrent claims and the WHERE is re-checked on the
latest row version; on SQLite ``BEGIN IMMEDIATE`` serialises writers. Either way the quota
can never be exceeded, without counting requests.

Tracking token: ``secrets.token_urlsafe(32)`` (256 bits); only its SHA-256 is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from storage.db import Database, as_utc, dump_json, load_json
from storage.outbox import Mail, enqueue
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
    snapshot: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    pieces: list[Piece] = field(default_factory=list)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def format_reference(year: int, number: int) -> str:
    return f"{REFERENCE_PREFIX}-{year}-{number:06d}"


async def claim_quota(db: Database, procedure_id: str, claim: QuotaClaim) -> int:
    """Take one place or raise `QuotaReached`; call inside a transaction. Returns the count."""
    key = {
        "procedure_id": procedure_id,
        "period_key": claim.period_key,
        "scope_key": claim.scope_key,
    }
    await db.insert_ignore(quota_counters, {**key, "count": 0}, list(key))
    c = quota_counters.c
    count = await db.fetch_val(
        quota_counters.update()
        .where(
            c.procedure_id == procedure_id,
            c.period_key == claim.period_key,
            c.scope_key == claim.scope_key,
            c.count < claim.max,
        )
        .values(count=c.count + 1)
        .returning(c.count)
    )
    if count is None:
        raise QuotaReached(procedure_id, claim.period_key, claim.scope_key)
    return int(count)


async def next_reference(db: Database, now: dt.datetime) -> str:
    """The next ``DEM-<year>-<number>``; the year is the Paris year. Inside a transaction."""
    year = now.astimezone(PARIS).year
    await db.insert_ignore(reference_counters, {"year": year, "last": 0}, ["year"])
    c = reference_counters.c
    number = await db.fetch_val(
        reference_counters.update().where(c.year == year).values(last=c.last + 1).returning(c.last)
    )
    return format_reference(year, int(number))


async def submit(
    db: Database,
    new: NewRequest,
    now: dt.datetime,
    compose_ack: Callable[[str, str], Mail | None],
) -> Submitted:
    """Store a new request and everything that goes with it, all or nothing."""
    token = secrets.token_urlsafe(32)
    async with db.transaction():
        await db.insert_ignore(
            definition_versions,
            {
                "procedure_id": new.procedure_id,
                "version": new.version,
                "snapshot": dump_json(new.snapshot),
                "first_used_at": now,
            },
            ["procedure_id", "version"],
        )
        if new.quota is not None:
            await claim_quota(db, new.procedure_id, new.quota)
        reference = await next_reference(db, now)
        request_id = await _insert_request(db, new, reference, hash_token(token), now)
        await add_event(db, request_id, "submitted", now=now, actor_kind="citizen")
        for piece in new.pieces:
            await add_piece(db, piece, now=now, request_id=request_id)
        mail = compose_ack(reference, token)
        if mail is not None:
            await enqueue(db, mail, now)
    return Submitted(id=request_id, reference=reference, token=token)


async def _insert_request(
    db: Database, new: NewRequest, reference: str, token_hash: str, now: dt.datetime
) -> int:
    appointment = None if new.appointment is None else dump_json(new.appointment)
    query = (
        requests.insert()
        .values(
            reference=reference,
            procedure_id=new.procedure_id,
            version=new.version,
            state=new.state,
            applicant=dump_json(new.applicant),
            data=dump_json(new.data),
            appointment=appointment,
            account_id=new.account_id,
            token_hash=token_hash,
            created_at=now,
            updated_at=now,
        )
        .returning(requests.c.id)
    )
    return int(await db.fetch_val(query))


async def add_piece(
    db: Database,
    piece: Piece,
    *,
    now: dt.datetime,
    request_id: int | None = None,
    account_id: int | None = None,
) -> int:
    """Store a piece and its files for a request or a citizen's storage; return its id."""
    piece_id = int(
        await db.fetch_val(
            pieces.insert()
            .values(
                request_id=request_id,
                account_id=account_id,
                document_type=piece.document_type,
                label=piece.label,
                created_at=now,
            )
            .returning(pieces.c.id)
        )
    )
    for position, stored in enumerate(piece.files, start=1):
        await db.execute(
            piece_files.insert().values(
                piece_id=piece_id,
                position=position,
                sha256=stored.sha256,
                filename=stored.filename,
                content_type=stored.content_type,
                size=stored.size,
            )
        )
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
    await db.execute(
        request_events.insert().values(
            request_id=request_id,
            at=now,
            kind=kind,
            actor_kind=actor_kind,
            actor_id=actor_id,
            data=dump_json(data or {}),
        )
    )


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
    async with db.transaction():
        changed = await db.fetch_val(
            requests.update()
            .where(requests.c.id == request_id, requests.c.state == from_state)
            .values(state=to_state, updated_at=now, cancelled_at=now)
            .returning(requests.c.id)
        )
        if changed is None:
            return False
        data = {"from": from_state, "to": to_state}
        await add_event(db, request_id, "cancelled", now=now, actor_kind=actor, data=data)
    return True


async def quota_used(db: Database, procedure_id: str, period_key: str, scope_key: str) -> int:
    c = quota_counters.c
    count = await db.fetch_val(
        sa.select(c.count).where(
            c.procedure_id == procedure_id, c.period_key == period_key, c.scope_key == scope_key
        )
    )
    return int(count or 0)


async def get_by_token(db: Database, token: str) -> TrackedRequest | None:
    """The request whose tracking token is ``token``, or None."""
    return await _load(db, requests.c.token_hash == hash_token(token))


async def get_request(db: Database, request_id: int) -> TrackedRequest | None:
    return await _load(db, requests.c.id == request_id)


async def _load(db: Database, where: sa.ColumnElement[bool]) -> TrackedRequest | None:
    query = (
        sa.select(requests, definition_versions.c.snapshot)
        .join(
            definition_versions,
            sa.and_(
                definition_versions.c.procedure_id == requests.c.procedure_id,
                definition_versions.c.version == requests.c.version,
            ),
        )
        .where(where)
    )
    row = await db.fetch_one(query)
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
        snapshot=load_json(row["snapshot"]),
        events=await load_events(db, row["id"]),
        pieces=await load_pieces(db, row["id"]),
    )


def _utc(value: Any) -> dt.datetime:
    converted = as_utc(value)
    assert converted is not None
    return converted


async def load_events(db: Database, request_id: int) -> list[Event]:
    c = request_events.c
    rows = await db.fetch_all(
        sa.select(request_events).where(c.request_id == request_id).order_by(c.at, c.id)
    )
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
    query = (
        sa.select(pieces.c.id, pieces.c.document_type, pieces.c.label, piece_files)
        .join(piece_files, piece_files.c.piece_id == pieces.c.id, isouter=True)
        .where(pieces.c.request_id == request_id)
        .order_by(pieces.c.id, piece_files.c.position)
    )
    found: dict[int, Piece] = {}
    for r in await db.fetch_all(query):
        piece = found.setdefault(r["id"], Piece(r["document_type"], r["label"], []))
        if r["sha256"] is not None:
            piece.files.append(StoredFile(r["sha256"], r["filename"], r["content_type"], r["size"]))
    return list(found.values())
