from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from storage import tables
from storage.db import Database, as_utc, connect, dump_json, load_json, sqlite_timestamp
from storage.migrations import migrate

pytestmark = pytest.mark.anyio


async def test_read_then_write_transactions_do_not_fail_under_concurrency(
    db_url: str, db: Database
) -> None:
    # On SQLite a deferred BEGIN would fail here at once ("database is locked"): a reader
    # cannot upgrade to writer after another writer committed. BEGIN IMMEDIATE waits instead.
    counters = tables.reference_counters
    await db.execute(counters.insert().values(year=2026, last=0))
    small = "?min_size=1&max_size=1" if db_url.startswith("postgresql") else ""
    clients = [await connect(db_url + small) for _ in range(10)]

    async def increment(client: Database) -> None:
        async with client.transaction():
            last = await client.fetch_val(sa.select(counters.c.last))
            await asyncio.sleep(0.01)
            await client.execute(counters.update().values(last=counters.c.last + 1))
            assert last is not None

    try:
        await asyncio.gather(*(increment(c) for c in clients))
    finally:
        for client in clients:
            await client.disconnect()
    assert await db.fetch_val(sa.select(counters.c.last)) == 10


async def test_rollback_on_error_and_nested_savepoint(db: Database) -> None:
    counters = tables.reference_counters
    with pytest.raises(RuntimeError, match="boom"):
        async with db.transaction():
            await db.execute(counters.insert().values(year=2026, last=1))
            raise RuntimeError("boom")
    async with db.transaction():
        await db.execute(counters.insert().values(year=2027, last=1))
        with pytest.raises(RuntimeError, match="inner"):
            async with db.transaction():
                await db.execute(counters.insert().values(year=2028, last=1))
                raise RuntimeError("inner")
    rows = await db.fetch_all(sa.select(counters.c.year))
    assert rows == [{"year": 2027}]


async def test_remembered_facts_follow_the_root_transaction(db: Database) -> None:
    db.remember("outside")  # no transaction: true at once
    async with db.transaction():
        db.remember("root")
        with pytest.raises(RuntimeError, match="inner"):
            async with db.transaction():
                db.remember("rolled back savepoint")
                raise RuntimeError("inner")
        async with db.transaction():
            db.remember("released savepoint")
        assert db.known == {"outside"}
    assert db.known == {"outside", "root", "released savepoint"}
    with pytest.raises(RuntimeError, match="outer"):
        async with db.transaction():
            async with db.transaction():
                db.remember("inside a failed root")
            raise RuntimeError("outer")
    assert db.known == {"outside", "root", "released savepoint"}


async def _locked_by_another_process(path: str) -> sqlite3.Connection:
    # Stands for `guichet migrate` or any other process writing to the file.
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


async def test_sqlite_waits_for_another_writer_without_blocking_the_loop(tmp_path: Path) -> None:
    path = str(tmp_path / "guichet.sqlite3")
    db = await connect(f"sqlite:///{path}")
    try:
        await migrate(db)
        other = await _locked_by_another_process(path)
        counters = tables.reference_counters

        async def write() -> None:
            async with db.transaction():
                await db.execute(counters.insert().values(year=2026, last=1))

        writing = asyncio.create_task(write())
        await asyncio.sleep(0.05)
        # The loop still runs (this line executes) and the transaction is still waiting.
        assert not writing.done()
        # Reads outside a transaction are not held up by the other writer.
        assert await db.fetch_all(sa.select(counters)) == []
        other.execute("COMMIT")
        other.close()
        await writing
        assert await db.fetch_all(sa.select(counters)) == [{"year": 2026, "last": 1}]
    finally:
        await db.disconnect()


async def test_sqlite_gives_up_after_the_url_timeout(tmp_path: Path) -> None:
    path = str(tmp_path / "guichet.sqlite3")
    db = await connect(f"sqlite:///{path}?timeout=0.05")
    other = await _locked_by_another_process(path)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            async with db.transaction():
                pass
        other.execute("ROLLBACK")
        # The in-process lock of the failed transaction was released: the next one runs.
        async with db.transaction():
            assert await db.fetch_val(sa.text("SELECT 1")) == 1
    finally:
        other.close()
        await db.disconnect()


async def test_reads_outside_a_transaction_do_not_see_uncommitted_rows(db: Database) -> None:
    counters = tables.reference_counters
    inside = asyncio.Event()
    release = asyncio.Event()

    async def slow_writer() -> None:
        async with db.transaction():
            await db.execute(counters.insert().values(year=2026, last=1))
            inside.set()
            await release.wait()

    writing = asyncio.create_task(slow_writer())
    await inside.wait()
    assert await db.fetch_all(sa.select(counters)) == []
    release.set()
    await writing
    assert await db.fetch_all(sa.select(counters)) == [{"year": 2026, "last": 1}]


async def test_write_outside_a_transaction_waits_for_the_open_one(db: Database) -> None:
    # It must not slip into the other task's transaction (and be rolled back with it).
    counters = tables.reference_counters
    inside = asyncio.Event()

    async def failing_transaction() -> None:
        async with db.transaction():
            await db.execute(counters.insert().values(year=2026, last=1))
            inside.set()
            await asyncio.sleep(0.02)
            raise RuntimeError("boom")

    failing = asyncio.create_task(failing_transaction())
    await inside.wait()
    await db.execute(counters.insert().values(year=2027, last=1))
    with pytest.raises(RuntimeError, match="boom"):
        await failing
    assert await db.fetch_all(sa.select(counters.c.year)) == [{"year": 2027}]


async def _sqlite(tmp_path: Path) -> Database:
    db = await connect(f"sqlite:///{tmp_path / 'guichet.sqlite3'}")
    await migrate(db)
    return db


def _count_commits(db: Database) -> list[str]:
    """The COMMITs the SQLite writer runs from now on."""
    commits: list[str] = []
    db._writer.set_trace_callback(  # type: ignore[attr-defined]
        lambda sql: commits.append(sql) if sql == "COMMIT" else None
    )
    return commits


async def test_sqlite_transactions_ready_together_share_one_commit(tmp_path: Path) -> None:
    db = await _sqlite(tmp_path)
    counters = tables.reference_counters
    try:
        commits = _count_commits(db)

        async def insert(year: int) -> None:
            async with db.transaction():
                await db.execute(counters.insert().values(year=year, last=1))

        await asyncio.gather(*(insert(2020 + i) for i in range(5)))
        assert len(commits) == 1
        # Each returned after the commit: the rows are visible to a plain read at once.
        assert len(await db.fetch_all(sa.select(counters))) == 5
        await insert(2030)  # alone: a commit of its own
        assert len(commits) == 2
    finally:
        await db.disconnect()


async def test_sqlite_a_failing_member_leaves_the_others_of_its_commit(tmp_path: Path) -> None:
    db = await _sqlite(tmp_path)
    counters = tables.reference_counters
    try:

        async def insert(year: int, fail: bool) -> None:
            async with db.transaction():
                await db.execute(counters.insert().values(year=year, last=1))
                if fail:
                    raise RuntimeError("boom")

        results = await asyncio.gather(
            insert(2020, False), insert(2021, True), insert(2022, False), return_exceptions=True
        )
        assert [type(r).__name__ for r in results] == ["NoneType", "RuntimeError", "NoneType"]
        rows = await db.fetch_all(sa.select(counters.c.year).order_by(counters.c.year))
        assert rows == [{"year": 2020}, {"year": 2022}]
        # The first member of a group has no savepoint: its failure rolls back the whole
        # transaction, which nobody else had joined yet.
        results = await asyncio.gather(
            insert(2030, True), insert(2031, False), return_exceptions=True
        )
        assert [type(r).__name__ for r in results] == ["RuntimeError", "NoneType"]
        rows = await db.fetch_all(sa.select(counters.c.year).order_by(counters.c.year))
        assert rows == [{"year": 2020}, {"year": 2022}, {"year": 2031}]
    finally:
        await db.disconnect()


async def test_sqlite_a_failed_commit_fails_every_member_and_keeps_nothing(
    tmp_path: Path,
) -> None:
    # A deferred foreign key is checked at COMMIT: one member's bad row makes the shared
    # COMMIT fail, so every member of the group must raise and nothing may remain.
    db = await _sqlite(tmp_path)
    try:
        await db.execute(sa.text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        await db.execute(
            sa.text(
                "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER "
                "REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)"
            )
        )

        async def insert(row: int, parent: int) -> None:
            async with db.transaction():
                await db.execute(sa.text(f"INSERT INTO child VALUES ({row}, {parent})"))

        await db.execute(sa.text("INSERT INTO parent VALUES (1)"))
        results = await asyncio.gather(insert(1, 1), insert(2, 99), return_exceptions=True)
        assert all(isinstance(r, sqlite3.IntegrityError) for r in results), results
        assert await db.fetch_all(sa.text("SELECT id FROM child")) == []
        await insert(3, 1)  # the database is usable again
        assert await db.fetch_all(sa.text("SELECT id FROM child")) == [{"id": 3}]
    finally:
        await db.disconnect()


async def test_queries_gathered_inside_a_transaction_do_not_collide(db: Database) -> None:
    # PostgreSQL: a connection runs one statement at a time; the tasks gather makes must
    # not use the transaction's connection (they run outside it, on pool connections).
    counters = tables.reference_counters
    await db.execute(counters.insert().values(year=2025, last=1))
    async with db.transaction():
        await db.execute(counters.insert().values(year=2026, last=1))
        seen = await asyncio.gather(*(db.fetch_all(sa.select(counters.c.year)) for _ in range(4)))
        assert await db.fetch_all(sa.select(counters.c.year).order_by(counters.c.year)) == [
            {"year": 2025},
            {"year": 2026},
        ]
    assert all({"year": 2025} in rows for rows in seen)


async def test_timestamps_are_stored_in_utc_and_compare_across_offsets(db: Database) -> None:
    versions = tables.schema_version
    paris = dt.datetime(2026, 7, 1, 2, 30, tzinfo=ZoneInfo("Europe/Paris"))  # UTC+2
    await db.execute(versions.insert().values(version=900, description="t", applied_at=paris))
    row = await db.fetch_one(sa.select(versions.c.applied_at).where(versions.c.version == 900))
    assert row is not None
    assert as_utc(row["applied_at"]) == dt.datetime(2026, 7, 1, 0, 30, tzinfo=dt.UTC)
    # A bound timestamp compares with the stored ones whatever its offset.
    before = sa.select(versions.c.version).where(
        versions.c.applied_at < dt.datetime(2026, 7, 1, 0, 30, 0, 1, tzinfo=dt.UTC)
    )
    assert 900 in [r["version"] for r in await db.fetch_all(before)]
    if db.backend == "sqlite":  # sortable text, microseconds always written
        stored = sa.text("SELECT applied_at FROM schema_version WHERE version = 900")
        raw = await db.fetch_val(stored)
        assert raw == "2026-07-01 00:30:00.000000"
    with pytest.raises(ValueError, match="timezone-aware"):
        naive = dt.datetime(2026, 7, 1)
        await db.execute(versions.insert().values(version=901, description="t", applied_at=naive))


def test_the_sqlite_binder_gives_each_timestamp_its_own_text() -> None:
    # It remembers the last object it formatted: alternating objects must not mix up.
    first = dt.datetime(2026, 7, 1, 2, 30, tzinfo=ZoneInfo("Europe/Paris"))
    second = dt.datetime(2026, 12, 24, 23, 59, 59, 5, tzinfo=dt.UTC)
    for _ in range(2):
        assert sqlite_timestamp(first) == "2026-07-01 00:30:00.000000"
        assert sqlite_timestamp(first) == "2026-07-01 00:30:00.000000"
        assert sqlite_timestamp(second) == "2026-12-24 23:59:59.000005"
    assert sqlite_timestamp(None) is None


def test_json_text_is_the_stdlib_text_and_takes_what_orjson_refuses() -> None:
    import json

    def stdlib(value: object, **options: object) -> str:
        return json.dumps(
            value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), **options
        )

    document = {
        "nom": "Dupont-Lefèvre",
        "b": [1, 2.5, None, True, {"z": '€ \u2028 " \\ \n', "a": []}],
        "a": {"ville": "Belval-sur-Loire", "code": "45000"},
        "quantité": -0.0,
    }
    assert dump_json(document) == stdlib(document)
    assert load_json(dump_json(document)) == document
    # An integer beyond 64 bits (a number field accepts 1e30) and non-string keys: the stdlib.
    assert dump_json({"n": 10**30}) == '{"n":1000000000000000000000000000000}'
    assert dump_json({2: "b", 1: "a"}) == stdlib({2: "b", 1: "a"}) == '{"1":"a","2":"b"}'
    day = dt.date(2026, 11, 30)
    assert dump_json([day], default=str) == '["2026-11-30"]'
    assert dump_json({1: day}, default=str) == '{"1":"2026-11-30"}'
    with pytest.raises(TypeError):
        dump_json({"when": object()})


async def test_execute_count_and_insert_id_on_both_databases(db: Database) -> None:
    from storage.db import Statement, returning_id

    counters = tables.reference_counters
    insert = Statement(
        returning_id(counters.insert().values(year=sa.bindparam("y"), last=0), counters.c.year)
    )
    assert await db.insert_id(insert, {"y": 2025}) == 2025
    assert await db.insert_id(insert, {"y": 2026}) == 2026
    bump = counters.update().values(last=counters.c.last + 1)
    assert await db.execute_count(bump) == 2
    assert await db.execute_count(bump.where(counters.c.year == 2030)) == 0
    again = db.insert(counters).values(year=2026, last=9).on_conflict_do_nothing()
    assert await db.execute_count(again) == 0
    async with db.transaction():
        assert await db.execute_count(counters.delete().where(counters.c.year == 2025)) == 1
    assert await db.fetch_all(sa.select(counters.c.year, counters.c.last)) == [
        {"year": 2026, "last": 1}
    ]
