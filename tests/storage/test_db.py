from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from storage import tables
from storage.db import Database, connect

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
