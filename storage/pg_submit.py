"""The submission on PostgreSQL: ONE statement, in one round trip, with no explicit transaction.

`storage.requests.submit` writes a quota claim, a reference, the request, its first event,
its pieces and their files, the definition snapshot (if new), the acknowledgement (a
template row of the outbox, composed later by the mail worker), and deletes the draft the
request came from. With a statement per row that was a dozen round trips between BEGIN and
COMMIT, and the year's reference counter row, locked from its claim to the COMMIT, made
every other submission of the year wait for all of them.

Here it is a single statement, a chain of data-modifying CTEs, sent outside any transaction
(or inside the caller's, if there is one); a single statement is atomic on its own, so the
round trips of BEGIN and COMMIT go too. PostgreSQL runs every CTE exactly once, whether or
not the final SELECT reads it, and checks foreign keys at the end of the statement.

- ``found`` (when the draft's revision is given) locks the draft row at that revision; a
  second submission of the same draft (a double click) waits for the first, then finds
  the row gone, so ``quota`` and ``number`` select from nothing and nothing is written;
  the final SELECT then still returns a row, with ``found`` false, to tell this case from
  a full quota;
- ``quota`` takes the quota place (when the procedure has a quota): row locks and the
  ``WHERE count < max`` on the latest row version keep it exact under concurrency;
- ``number`` takes the year's next reference number, selecting from ``quota``: when the
  quota is full no row comes out of ``quota``, so no number is taken, and every later CTE
  selects from ``number`` (directly or through ``request``) and writes nothing either. The
  statement then returns no row, which is how the caller learns that the quota is full;
- ``request`` gets its reference formatted in SQL, as `storage.requests.format_reference`
  does in Python (a test compares them on both sides of the 6-digit boundary);
- ``mail`` queues the acknowledgement of the new request's id (`storage.outbox`).

The reference counter row stays locked from ``number`` to the end of the statement's
commit, the shortest it can be while references stay strictly increasing per year with no
gaps. A sequence would avoid the lock, but it leaves a gap after every rolled-back
submission (a refused quota, a failed insert), which a town hall would have to explain.

The SQL depends on the shape of the submission (quota or not, snapshot or not, pieces and
files per piece, mail or not, draft or not): each shape is written once and cached, so
asyncpg prepares it once per connection.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from storage.db import Database, RawStatement
from storage.drafts import DraftConflict
from storage.outbox import ACK, template_values


@dataclass(frozen=True)
class Shape:
    quota: bool
    definition: bool
    files: tuple[int, ...]  # files per piece
    mail: bool
    draft: bool  # the draft is deleted, and must still be at the given revision


class _Sql:
    """Collects the parameters of a statement being written: ``p(name, cast)`` -> ``$n``
    (the same ``$n`` each time a name comes back)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def p(self, name: str, cast: str = "VARCHAR") -> str:
        if name not in self.names:
            self.names.append(name)
        return f"${self.names.index(name) + 1}::{cast}"


_TS = "TIMESTAMP WITH TIME ZONE"
_STATEMENTS: dict[Shape, RawStatement] = {}


def statement(shape: Shape) -> RawStatement:
    """The submission statement of this shape (written once, then cached)."""
    found = _STATEMENTS.get(shape)
    if found is not None:
        return found
    q = _Sql()
    now = q.p("now", _TS)
    ctes = []
    # Without the draft revision, no row comes out of ``found`` and nothing is written.
    gate = " FROM found" if shape.draft else ""
    if shape.draft:
        ctes.append(
            f"found AS (SELECT 1 FROM drafts WHERE session_id = {q.p('draft_session')}"
            f" AND procedure_id = {q.p('procedure_id')} AND rev = {q.p('draft_rev')} FOR UPDATE)"
        )
    if shape.quota:
        ctes.append(
            "quota AS (INSERT INTO quota_counters (procedure_id, period_key, scope_key, count)"
            f" SELECT {q.p('procedure_id')}, {q.p('period_key')}, {q.p('scope_key')}, 1{gate}"
            " ON CONFLICT (procedure_id, period_key, scope_key) DO UPDATE"
            " SET count = quota_counters.count + 1"
            f" WHERE quota_counters.count < {q.p('max', 'INTEGER')} RETURNING count)"
        )
    ctes.append(
        f"number AS (INSERT INTO reference_counters (year, last) SELECT {q.p('year', 'INTEGER')},"
        f" 1{' FROM quota' if shape.quota else gate} ON CONFLICT (year) DO UPDATE"
        " SET last = reference_counters.last + 1 RETURNING last)"
    )
    ctes.append(
        f"ref AS (SELECT {q.p('prefix')} || CASE WHEN last < 1000000"
        " THEN lpad(last::text, 6, '0') ELSE last::text END AS reference FROM number)"
    )
    if shape.definition:
        ctes.append(
            "definition AS (INSERT INTO definition_versions (procedure_id, version, snapshot,"
            f" first_used_at) SELECT {q.p('procedure_id')}, {q.p('version')},"
            f" {q.p('snapshot')}, {now} FROM ref"
            " ON CONFLICT (procedure_id, version) DO NOTHING)"
        )
    ctes.append(
        "request AS (INSERT INTO requests (reference, procedure_id, version, state, applicant,"
        " data, appointment, account_id, token_hash, created_at, updated_at)"
        f" SELECT reference, {q.p('procedure_id')}, {q.p('version')}, {q.p('state')},"
        f" {q.p('applicant')}, {q.p('data')}, {q.p('appointment')},"
        f" {q.p('account_id', 'INTEGER')}, {q.p('token_hash')}, {now}, {now} FROM ref"
        " RETURNING id, reference)"
    )
    ctes.append(
        "event AS (INSERT INTO request_events (request_id, at, kind, actor_kind, actor_id, data)"
        f" SELECT id, {now}, 'submitted', 'citizen', NULL, '{{}}' FROM request)"
    )
    if shape.files:
        # The pieces take their serial ids in the order the SELECT produces them (ORDER BY),
        # so the n-th piece has the n-th smallest id; its files join on that rank.
        rows = ", ".join(
            f"({i}, {q.p(f'p{i}_type')}, {q.p(f'p{i}_label')})" for i in range(len(shape.files))
        )
        ctes.append(
            "piece AS (INSERT INTO pieces (request_id, account_id, document_type, label,"
            f" created_at) SELECT request.id, NULL, v.type, v.label, {now}"
            f" FROM request, (VALUES {rows}) AS v(n, type, label) ORDER BY v.n RETURNING id)"
        )
        rows = ", ".join(
            f"({i}, {j + 1}, {q.p(f'p{i}f{j}_sha256')}, {q.p(f'p{i}f{j}_filename')},"
            f" {q.p(f'p{i}f{j}_content_type')}, {q.p(f'p{i}f{j}_size', 'INTEGER')})"
            for i, count in enumerate(shape.files)
            for j in range(count)
        )
        if rows:
            ctes.append(
                "files AS (INSERT INTO piece_files (piece_id, position, sha256, filename,"
                " content_type, size) SELECT piece.id, v.position, v.sha256, v.filename,"
                " v.content_type, v.size"
                " FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM piece) AS piece"
                f" JOIN (VALUES {rows}) AS v(n, position, sha256, filename, content_type, size)"
                " ON v.n = piece.n)"
            )
    if shape.mail:
        ctes.append(
            "mail AS (INSERT INTO outbox (created_at, message_id, to_addr, subject, text_body,"
            " html_body, attempts, next_attempt_at, template, request_id, secret)"
            f" SELECT {now}, {q.p('message_id')}, {q.p('to_addr')}, '', '', '', 0, {now},"
            f" {q.p('template')}, id, {q.p('secret')} FROM request)"
        )
    if shape.draft:
        ctes.append(
            f"gone AS (DELETE FROM drafts WHERE session_id = {q.p('draft_session')}"
            f" AND procedure_id = {q.p('procedure_id')} AND EXISTS (SELECT 1 FROM request))"
        )
    final = "SELECT id, reference FROM request"
    if shape.draft:  # a row even when nothing was written: which of the two stopped it
        final = (
            "SELECT request.id, request.reference, EXISTS (SELECT 1 FROM found) AS found"
            " FROM (SELECT 1) AS one LEFT JOIN request ON TRUE"
        )
    sql = "WITH " + ",\n".join(ctes) + "\n" + final
    found = _STATEMENTS[shape] = RawStatement("postgresql", sql, q.names)
    return found


async def submit(
    db: Database,
    values: dict[str, Any],
    quota: bool,
    pieces: list[Any],
    ack: tuple[str, str] | None,
    draft: tuple[str, str] | None,
    now: dt.datetime,
) -> tuple[int, str] | None:
    """Store everything in one statement; (request id, reference), or None when the quota is
    full; `DraftConflict` when the draft is not at the given revision. Either way, nothing
    was written.

    ``values``: the columns of `requests` (the statement sets ``reference``, ``created_at``
    and ``updated_at`` itself, whatever ``values`` says); ``year`` and ``prefix`` (the
    reference's, see `format_reference`); ``snapshot`` (None when the definition version is
    known stored); with ``quota``, ``period_key``, ``scope_key`` and ``max``. ``ack``: the
    acknowledgement's address and tracking token (None: no acknowledgement). ``draft``: the
    session and revision of the draft to delete.
    """
    values = dict(values, now=now)
    if draft is not None:
        values.update(draft_session=draft[0], draft_rev=draft[1])
    for i, piece in enumerate(pieces):
        values[f"p{i}_type"] = piece.document_type
        values[f"p{i}_label"] = piece.label
        for j, stored in enumerate(piece.files):
            values[f"p{i}f{j}_sha256"] = stored.sha256
            values[f"p{i}f{j}_filename"] = stored.filename
            values[f"p{i}f{j}_content_type"] = stored.content_type
            values[f"p{i}f{j}_size"] = stored.size
    if ack is not None:
        values.update(template_values(ACK, None, ack[0], ack[1], now))
    shape = Shape(
        quota=quota,
        definition=values["snapshot"] is not None,
        files=tuple(len(piece.files) for piece in pieces),
        mail=ack is not None,
        draft=draft is not None,
    )
    row = await db.fetch_one(statement(shape), values)
    if row is not None and row["id"] is None and not row["found"]:
        assert draft is not None, "only a draft revision yields an empty row"
        raise DraftConflict(values["procedure_id"], *draft)
    if row is None or row["id"] is None:
        return None
    return (int(row["id"]), str(row["reference"]))
