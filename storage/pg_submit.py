"""The submission on PostgreSQL: two statements instead of one per row.

`storage.requests.submit` writes a quota claim, a reference, the request, its first event,
its pieces and their files, the definition snapshot (if new) and the acknowledgement mail.
One statement per row made it twelve round trips with BEGIN and COMMIT, and the year's
reference counter row stayed locked from its claim to the COMMIT, so every submission of
the year waited behind the one holding it for about eight round trips.

Here, inside the caller's transaction:

1. `claim` takes the quota place and the reference number in ONE statement: the reference
   upsert selects from the quota upsert (a data-modifying CTE), so when the quota is full
   no row comes back and no number is taken. Row locks and the ``WHERE count < max`` on
   the latest row version keep the quota exact under concurrency, as before.
2. `store` inserts everything else in ONE statement, a chain of data-modifying CTEs
   (PostgreSQL runs each of them exactly once, whether or not the final SELECT reads it;
   foreign keys are checked at the end of the statement, when the rows exist). Its SQL
   depends on the shape of the submission (pieces and files per piece, mail or not,
   snapshot or not): each shape is written once and cached, so asyncpg prepares it once
   per connection.

A submission is then four round trips (BEGIN, claim, store, COMMIT) and the reference
counter is locked for two of them. References stay strictly increasing per year with no
gaps: a sequence would avoid the lock altogether, but it leaves a gap after every rolled
back submission (a refused quota, a failed insert), which a town hall would have to explain.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from storage.db import Database, RawStatement
from storage.outbox import Mail, enqueue_values

_QUOTA_THEN_REFERENCE = RawStatement(
    "postgresql",
    """WITH quota AS (
    INSERT INTO quota_counters (procedure_id, period_key, scope_key, count)
    VALUES ($1::VARCHAR, $2::VARCHAR, $3::VARCHAR, 1)
    ON CONFLICT (procedure_id, period_key, scope_key)
    DO UPDATE SET count = quota_counters.count + 1 WHERE quota_counters.count < $4::INTEGER
    RETURNING count
)
INSERT INTO reference_counters (year, last) SELECT $5::INTEGER, 1 FROM quota
ON CONFLICT (year) DO UPDATE SET last = reference_counters.last + 1
RETURNING reference_counters.last""",
    ("procedure_id", "period_key", "scope_key", "max", "year"),
)


async def claim_quota_and_reference(db: Database, values: dict[str, Any]) -> int | None:
    """The year's next reference number, or None (nothing taken) when the quota is full.

    ``values``: procedure_id, period_key, scope_key, max, year.
    """
    number = await db.fetch_val(_QUOTA_THEN_REFERENCE, values)
    return None if number is None else int(number)


class _Sql:
    """Collects the parameters of a statement being written: ``p(name, cast)`` -> ``$n``."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def p(self, name: str, cast: str = "VARCHAR") -> str:
        self.names.append(name)
        return f"${len(self.names)}::{cast}"


_TS = "TIMESTAMP WITH TIME ZONE"
_SHAPES: dict[tuple[bool, tuple[int, ...], bool], RawStatement] = {}


def _statement(definition: bool, files: tuple[int, ...], mail: bool) -> RawStatement:
    shape = (definition, files, mail)
    found = _SHAPES.get(shape)
    if found is not None:
        return found
    q = _Sql()
    ctes = []
    if definition:
        ctes.append(
            "definition AS (INSERT INTO definition_versions (procedure_id, version, snapshot,"
            f" first_used_at) VALUES ({q.p('procedure_id')}, {q.p('version')},"
            f" {q.p('snapshot')}, {q.p('now', _TS)}) ON CONFLICT (procedure_id, version)"
            " DO NOTHING)"
        )
    ctes.append(
        "request AS (INSERT INTO requests (reference, procedure_id, version, state, applicant,"
        " data, appointment, account_id, token_hash, created_at, updated_at) VALUES ("
        f"{q.p('reference')}, {q.p('procedure_id')}, {q.p('version')}, {q.p('state')},"
        f" {q.p('applicant')}, {q.p('data')}, {q.p('appointment')},"
        f" {q.p('account_id', 'INTEGER')}, {q.p('token_hash')}, {q.p('now', _TS)},"
        f" {q.p('now', _TS)}) RETURNING id)"
    )
    ctes.append(
        "event AS (INSERT INTO request_events (request_id, at, kind, actor_kind, actor_id, data)"
        f" VALUES ((SELECT id FROM request), {q.p('now', _TS)}, 'submitted', 'citizen', NULL,"
        " '{}'))"
    )
    if files:
        # One INSERT for all pieces: its rows take their serial ids in VALUES order, so the
        # i-th piece is the i-th smallest id. (Separate CTEs run in no guaranteed order.)
        rows = ", ".join(
            f"((SELECT id FROM request), NULL, {q.p(f'p{i}_type')}, {q.p(f'p{i}_label')},"
            f" {q.p('now', _TS)})"
            for i in range(len(files))
        )
        ctes.append(
            "piece AS (INSERT INTO pieces (request_id, account_id, document_type, label,"
            f" created_at) VALUES {rows} RETURNING id)"
        )
    rows = ", ".join(
        f"((SELECT id FROM piece ORDER BY id OFFSET {i} LIMIT 1), {j + 1},"
        f" {q.p(f'p{i}f{j}_sha256')}, {q.p(f'p{i}f{j}_filename')},"
        f" {q.p(f'p{i}f{j}_content_type')}, {q.p(f'p{i}f{j}_size', 'INTEGER')})"
        for i, count in enumerate(files)
        for j in range(count)
    )
    if rows:
        ctes.append(
            "files AS (INSERT INTO piece_files (piece_id, position, sha256, filename,"
            f" content_type, size) VALUES {rows})"
        )
    if mail:
        ctes.append(
            "mail AS (INSERT INTO outbox (created_at, message_id, to_addr, sender, reply_to,"
            " subject, text_body, html_body, attempts, next_attempt_at) VALUES ("
            f"{q.p('now', _TS)}, {q.p('message_id')}, {q.p('to_addr')}, {q.p('sender')},"
            f" {q.p('reply_to')}, {q.p('subject')}, {q.p('text_body')}, {q.p('html_body')},"
            f" 0, {q.p('now', _TS)}))"
        )
    sql = "WITH " + ",\n".join(ctes) + "\nSELECT id FROM request"
    found = _SHAPES[shape] = RawStatement("postgresql", sql, q.names)
    return found


async def store(
    db: Database,
    request: dict[str, Any],
    pieces: list[Any],
    mail: Mail | None,
    snapshot: str | None,
    now: dt.datetime,
) -> int:
    """Insert the request, its event, pieces, files, mail (and ``snapshot`` unless None) in
    one statement; return the request id. ``request``: the columns of `requests` (as
    `storage.requests` builds them, ``created_at`` and ``updated_at`` being ``now``)."""
    values: dict[str, Any] = dict(request, now=now, snapshot=snapshot)
    for i, piece in enumerate(pieces):
        values[f"p{i}_type"] = piece.document_type
        values[f"p{i}_label"] = piece.label
        for j, stored in enumerate(piece.files):
            values[f"p{i}f{j}_sha256"] = stored.sha256
            values[f"p{i}f{j}_filename"] = stored.filename
            values[f"p{i}f{j}_content_type"] = stored.content_type
            values[f"p{i}f{j}_size"] = stored.size
    if mail is not None:
        values.update(enqueue_values(mail, now))
    shape = tuple(len(piece.files) for piece in pieces)
    statement = _statement(snapshot is not None, shape, mail is not None)
    return int(await db.fetch_val(statement, values))
