"""The schema, as SQLAlchemy Core tables (the latest version; `migrations` builds it).

Conventions:
- JSON documents are stored as text (`db.dump_json` / `db.load_json`): identical on both
  backends and byte-stable for snapshots.
- Timestamps are `UtcDateTime`.
- A column or table added by a later migration carries ``info={"since": N}`` so that
  migration 1 keeps creating the version-1 schema (see `migrations.tables_at`).
- Principals: citizens own accounts (the ``accounts`` table arrives with the personal space,
  issue 4, hence ``account_id`` without a foreign key for now); agents are a separate
  table later. An event's actor is ``actor_kind`` (agent/citizen/system) + ``actor_id``.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.db import UtcDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = sa.Integer
PROCEDURE_ID = sa.String(100)
VERSION = sa.String(64)
SHA256 = sa.String(64)

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
)

# The compiled content of every procedure version ever used by a request.
definition_versions = sa.Table(
    "definition_versions",
    metadata,
    sa.Column("procedure_id", PROCEDURE_ID, primary_key=True),
    sa.Column("version", VERSION, primary_key=True),
    sa.Column("snapshot", sa.Text, nullable=False),
    sa.Column("first_used_at", UtcDateTime, nullable=False),
)

requests = sa.Table(
    "requests",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("reference", sa.String(32), nullable=False, unique=True),
    sa.Column("procedure_id", PROCEDURE_ID, nullable=False, index=True),
    sa.Column("version", VERSION, nullable=False),
    sa.Column("state", sa.String(64), nullable=False, index=True),
    sa.Column("applicant", sa.Text, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("appointment", sa.Text, nullable=True),
    sa.Column("account_id", ID, nullable=True),  # indexed below, where set
    sa.Column("token_hash", SHA256, nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("cancelled_at", UtcDateTime, nullable=True),
    sa.ForeignKeyConstraint(
        ["procedure_id", "version"],
        ["definition_versions.procedure_id", "definition_versions.version"],
        name="fk_requests_definition_versions",
    ),
)


def _where_set(column: sa.Column[int]) -> sa.Index:
    """An index of ``column`` over the rows where it is set (partial index, since schema 4).

    Most requests are anonymous and a request's pieces belong to it, not to an account: an
    index of the NULLs would be written at every submission and never read. ``column = x``
    implies ``column IS NOT NULL``, so both databases use the index for such queries.
    """
    where = column.is_not(None)
    name = f"ix_{column.table.name}_{column.name}"
    return sa.Index(name, column, sqlite_where=where, postgresql_where=where)


ix_requests_account_id = _where_set(requests.c.account_id)

ACTOR_KINDS = ("agent", "citizen", "system")
# Written with OR rather than IN (since schema 5): SQLite (3.40) checks an IN list of more
# than two values by filling a temporary table at every row written, ~30 k instructions
# per event, where the ORs cost almost nothing. The same on both databases.
ACTOR_KIND_CHECK = " OR ".join(f"actor_kind = '{kind}'" for kind in ACTOR_KINDS)

# Every change to a request: submission, status changes, messages, documents, appointments.
request_events = sa.Table(
    "request_events",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("request_id", ID, sa.ForeignKey("requests.id"), nullable=False, index=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("actor_kind", sa.String(16), nullable=False),
    sa.Column("actor_id", ID, nullable=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.CheckConstraint(ACTOR_KIND_CHECK, name="actor_kind"),
)

# A piece ("pièce justificative") belongs to a request or to a citizen's storage.
pieces = sa.Table(
    "pieces",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("request_id", ID, sa.ForeignKey("requests.id"), nullable=True, index=True),
    sa.Column("account_id", ID, nullable=True),  # indexed below, where set
    sa.Column("document_type", sa.String(100), nullable=False),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("request_id IS NOT NULL OR account_id IS NOT NULL", name="owner"),
)

ix_pieces_account_id = _where_set(pieces.c.account_id)

piece_files = sa.Table(
    "piece_files",
    metadata,
    sa.Column("piece_id", ID, sa.ForeignKey("pieces.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sha256", SHA256, nullable=False, index=True),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
)

# One row per (procedure, period, scope): the quota is claimed with a conditional UPDATE.
quota_counters = sa.Table(
    "quota_counters",
    metadata,
    sa.Column("procedure_id", PROCEDURE_ID, primary_key=True),
    sa.Column("period_key", sa.String(32), primary_key=True),
    sa.Column("scope_key", sa.String(100), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)

reference_counters = sa.Table(
    "reference_counters",
    metadata,
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last", sa.Integer, nullable=False),
)

drafts = sa.Table(
    "drafts",
    metadata,
    sa.Column("session_id", sa.String(128), primary_key=True),
    sa.Column("procedure_id", PROCEDURE_ID, primary_key=True),
    sa.Column("version", VERSION, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    # Not indexed (since schema 4): only the hourly purge of abandoned drafts reads it, and a
    # scan of the live drafts then costs less than an index written at every step saved.
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # A random tag, new at every write: saves and the submission compare it (`storage.drafts`).
    sa.Column("rev", sa.String(32), nullable=False, server_default="", info={"since": 3}),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("message_id", sa.String(255), nullable=False, unique=True),
    sa.Column("to_addr", sa.Text, nullable=False),
    sa.Column("sender", sa.Text, nullable=True),
    sa.Column("reply_to", sa.Text, nullable=True),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("text_body", sa.Text, nullable=False),
    sa.Column("html_body", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False, index=True),
    # A worker owns a row until claimed_until; then another may take it (crash recovery).
    sa.Column("claimed_until", UtcDateTime, nullable=True),
    sa.Column("sent_at", UtcDateTime, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    # A mail queued to be composed by the worker ("ack": the acknowledgement of request_id,
    # whose tracking link needs ``secret``, the raw token). Both are cleared once composed.
    sa.Column("template", sa.String(32), nullable=True, info={"since": 2}),
    sa.Column("request_id", ID, nullable=True, info={"since": 2}),
    sa.Column("secret", sa.Text, nullable=True, info={"since": 2}),
)
