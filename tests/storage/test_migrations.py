from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.schema import CreateTable

from storage import tables
from storage.db import DIALECTS, Database, backend_of, connect
from storage.migrations import MIGRATIONS, applied_versions, migrate, tables_at

pytestmark = pytest.mark.anyio


async def test_migrate_applies_every_version_once(db_url: str) -> None:
    db = await connect(db_url)
    try:
        assert await migrate(db) == [m.version for m in MIGRATIONS]
        assert await migrate(db) == []
        assert await applied_versions(db) == {m.version for m in MIGRATIONS}
        for table in tables.metadata.sorted_tables:
            count = await db.fetch_val(sa.select(sa.func.count()).select_from(table))
            assert count == (len(MIGRATIONS) if table.name == "schema_version" else 0)
    finally:
        await db.disconnect()


async def test_two_databases_migrating_at_once_apply_each_version_once(db_url: str) -> None:
    import asyncio

    first, second = await connect(db_url), await connect(db_url)
    try:
        results = await asyncio.gather(migrate(first), migrate(second))
        assert sorted(results[0] + results[1]) == [m.version for m in MIGRATIONS]
    finally:
        await first.disconnect()
        await second.disconnect()


def test_tables_at_leaves_out_later_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tables.drafts.c.data.info, "since", 2)
    assert "data" not in tables_at(1)[[t.name for t in tables_at(1)].index("drafts")].c
    assert "data" in tables_at(2)[[t.name for t in tables_at(2)].index("drafts")].c


async def test_sqlite_file_is_wal_and_options_are_taken_from_the_url(tmp_path: Path) -> None:
    path = tmp_path / "guichet.sqlite3"
    db = await connect(f"sqlite:///{path}?timeout=7&pool=2")
    try:
        await migrate(db)
        async with db.transaction():
            pragmas = {
                name: await db.fetch_val(sa.text(f"PRAGMA {name}"))
                for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
            }
        assert getattr(db, "timeout", None) == 7.0
    finally:
        await db.disconnect()
    # synchronous: 1 is NORMAL. busy_timeout 0: SQLite never blocks the event loop, the
    # driver retries with asyncio.sleep instead (for at most `timeout` seconds).
    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 1,
        "busy_timeout": 0,
    }
    assert sorted(p.name for p in tmp_path.iterdir() if "?" in p.name) == []
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_unsupported_url_names_the_scheme() -> None:
    with pytest.raises(ValueError, match="Database URL scheme 'mysql' is not supported"):
        backend_of("mysql://localhost/guichet")


async def _migrated_to(
    db: Database, monkeypatch: pytest.MonkeyPatch, version: int, table: str
) -> sa.Table:
    """Migrate ``db`` up to ``version`` only; ``table`` as it was at that version."""
    monkeypatch.setattr("storage.migrations.MIGRATIONS", MIGRATIONS[:version])
    assert await migrate(db) == list(range(1, version + 1))
    return next(t for t in tables_at(version) if t.name == table)


async def test_version_2_adds_the_outbox_template_columns_to_a_version_1_database(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = await connect(db_url)
    try:
        outbox_v1 = await _migrated_to(db, monkeypatch, 1, "outbox")
        row = {
            "created_at": dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
            "message_id": "<1@guichet.local>",
            "to_addr": "zoe@example.org",
            "subject": "Sujet",
            "text_body": "Texte",
            "html_body": "<p>Texte</p>",
            "attempts": 0,
            "next_attempt_at": dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        }
        assert "template" not in outbox_v1.c
        await db.execute(sa.insert(outbox_v1).values(row))
        monkeypatch.setattr("storage.migrations.MIGRATIONS", MIGRATIONS[:2])
        assert await migrate(db) == [2]

        stored = await db.fetch_one(sa.select(tables.outbox))
        assert stored is not None
        assert (stored["subject"], stored["text_body"]) == ("Sujet", "Texte")
        assert (stored["template"], stored["request_id"], stored["secret"]) == (None, None, None)
    finally:
        await db.disconnect()


async def test_version_3_gives_existing_drafts_an_empty_revision_that_saves_can_name(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage.drafts import DraftConflict, load_draft, save_draft

    db = await connect(db_url)
    try:
        drafts_v2 = await _migrated_to(db, monkeypatch, 2, "drafts")
        assert "rev" not in drafts_v2.c
        now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
        row = {"session_id": "s", "procedure_id": "cantine", "version": "v1", "data": "{}"}
        await db.execute(sa.insert(drafts_v2).values(**row, updated_at=now))
        monkeypatch.setattr("storage.migrations.MIGRATIONS", MIGRATIONS[:3])
        assert await migrate(db) == [3]

        stored = await load_draft(db, "s", "cantine")
        assert stored is not None and (stored.data, stored.rev) == ({}, "")
        with pytest.raises(DraftConflict):
            await save_draft(db, "s", "cantine", "v1", {"a": 1}, now, expected="x")
        rev = await save_draft(db, "s", "cantine", "v1", {"a": 1}, now, expected="")
        stored = await load_draft(db, "s", "cantine")
        assert stored is not None and (stored.data, stored.rev) == ({"a": 1}, rev)
        with pytest.raises(Exception, match=r"(?i)not.null"):  # as on a new database
            await db.execute(sa.text("UPDATE drafts SET rev = NULL"))
    finally:
        await db.disconnect()


VERSION_4_INDEXES = ("ix_drafts_", "ix_requests_account", "ix_pieces_account")


async def _indexes(db: Database, wanted: tuple[str, ...] = VERSION_4_INDEXES) -> dict[str, str]:
    """Index name -> its definition (SQL), of the indexes whose names start with ``wanted``
    (by default those of version 4's change)."""
    if db.backend == "sqlite":
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    else:
        query = "SELECT indexname AS name, indexdef AS sql FROM pg_indexes"
    rows = await db.fetch_all(sa.text(query))
    return {r["name"]: r["sql"] for r in rows if r["name"].startswith(wanted)}


async def test_version_4_indexes_accounts_where_set_and_drops_the_drafts_age_index(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = await connect(db_url)
    try:
        await _migrated_to(db, monkeypatch, 3, "drafts")
        # A version-3 database as version 3 made it (version 1 now makes the new indexes).
        await db.execute(sa.text("DROP INDEX ix_requests_account_id"))
        await db.execute(sa.text("CREATE INDEX ix_requests_account_id ON requests (account_id)"))
        await db.execute(sa.text("CREATE INDEX ix_drafts_updated_at ON drafts (updated_at)"))
        before = await _indexes(db)
        assert "ix_drafts_updated_at" in before
        assert "where" not in before["ix_requests_account_id"].lower()
        monkeypatch.setattr("storage.migrations.MIGRATIONS", MIGRATIONS[:4])
        assert await migrate(db) == [4]

        after = await _indexes(db)
        assert "ix_drafts_updated_at" not in after
        for name in ("ix_requests_account_id", "ix_pieces_account_id"):
            assert "account_id is not null" in after[name].lower(), after[name]
        if db.backend == "sqlite":  # the planner still takes it for a lookup by account
            plan = await db.fetch_all(
                sa.text("EXPLAIN QUERY PLAN SELECT id FROM requests WHERE account_id = 7")
            )
            assert any("ix_requests_account_id" in str(r["detail"]) for r in plan), plan
    finally:
        await db.disconnect()


async def test_a_new_database_has_the_indexes_of_the_latest_version(db_url: str) -> None:
    db = await connect(db_url)
    try:
        await migrate(db)
        found = await _indexes(db)
        assert set(found) == {"ix_requests_account_id", "ix_pieces_account_id"}
        assert all("account_id is not null" in sql.lower() for sql in found.values())
    finally:
        await db.disconnect()


async def _actor_kind_check(db: Database) -> str:
    """The text of the events' actor kind CHECK, as the database holds it."""
    if db.backend == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'request_events'"
    else:
        query = (
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conname = 'ck_request_events_actor_kind'"
        )
    return str(await db.fetch_val(sa.text(query)))


def _ors_only(check: str) -> bool:
    """An OR of equalities, not IN (PostgreSQL shows IN as ``= ANY (ARRAY[...])``)."""
    upper = check.upper()
    return upper.count(" OR ") == 2 and " IN " not in upper and "ANY" not in upper


async def test_version_5_checks_the_events_actor_kind_with_ors_and_keeps_the_events(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage.requests import add_event, get_request, submit
    from tests.storage.factories import new_request

    db = await connect(db_url)
    try:
        await _migrated_to(db, monkeypatch, 4, "request_events")
        # The CHECK as versions 1-4 wrote it (version 1 now writes the new one).
        old = "actor_kind IN ('agent', 'citizen', 'system')"
        if db.backend == "sqlite":
            dialect = DIALECTS["sqlite"]
            ddl = str(CreateTable(tables.request_events).compile(dialect=dialect))
            assert tables.ACTOR_KIND_CHECK in ddl
            await db.execute(sa.text("DROP TABLE request_events"))
            await db.execute(sa.text(ddl.replace(tables.ACTOR_KIND_CHECK, old)))
            await db.execute(
                sa.text("CREATE INDEX ix_request_events_request_id ON request_events (request_id)")
            )
        else:
            await db.execute(
                sa.text(
                    "ALTER TABLE request_events DROP CONSTRAINT ck_request_events_actor_kind, "
                    f"ADD CONSTRAINT ck_request_events_actor_kind CHECK ({old})"
                )
            )
        assert not _ors_only(await _actor_kind_check(db))
        now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
        done = await submit(db, new_request(), now)
        await add_event(db, done.id, "message", now=now, actor_kind="agent", actor_id=7)

        monkeypatch.setattr("storage.migrations.MIGRATIONS", MIGRATIONS[:5])
        assert await migrate(db) == [5]
        check = await _actor_kind_check(db)
        assert _ors_only(check) and "'citizen'" in check, check
        tracked = await get_request(db, done.id)
        assert tracked is not None
        kinds = [(e.kind, e.actor_kind, e.actor_id) for e in tracked.events]
        assert kinds == [("submitted", "citizen", None), ("message", "agent", 7)]
        with pytest.raises(Exception, match=r"(?i)check"):
            await add_event(db, done.id, "message", now=now, actor_kind="robot")
        assert set(await _indexes(db, ("ix_request_events_",))) == {"ix_request_events_request_id"}
    finally:
        await db.disconnect()
