"""The PostgreSQL driver's own connections for statements outside transactions (`_Lanes`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from storage.db import RawStatement, connect
from storage.postgres import PostgresDatabase
from tests.conftest import PG_ADMIN_URL

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("db_url", ["postgres"], indirect=True)]

PID = RawStatement("postgresql", "SELECT pg_backend_pid() AS pid", ())
SLOW_PID = RawStatement("postgresql", "SELECT pg_backend_pid() AS pid, pg_sleep(0.05)", ())
SLEEP = RawStatement("postgresql", "SELECT pg_sleep($1::FLOAT)", ("seconds",))
BROKEN = RawStatement("postgresql", "SELECT 1 / 0", ())


@pytest.fixture
async def one_lane(db_url: str) -> AsyncIterator[PostgresDatabase]:
    db = await connect(db_url + "?min_size=1&max_size=1")
    assert isinstance(db, PostgresDatabase)
    try:
        yield db
    finally:
        await db.disconnect()


async def pid(db: PostgresDatabase) -> int:
    return int(await db.fetch_val(PID))


async def test_concurrent_statements_share_at_most_max_size_connections(db_url: str) -> None:
    db = await connect(db_url + "?min_size=1&max_size=2")
    try:
        rows = await asyncio.gather(*(db.fetch_one(SLOW_PID) for _ in range(12)))
    finally:
        await db.disconnect()
    assert len(rows) == 12
    assert 1 <= len({row["pid"] for row in rows if row is not None}) <= 2


async def test_a_statement_postgresql_refuses_keeps_its_connection(
    one_lane: PostgresDatabase,
) -> None:
    before = await pid(one_lane)
    with pytest.raises(asyncpg.DivisionByZeroError):
        await one_lane.fetch_all(BROKEN)
    assert await pid(one_lane) == before


async def test_a_connection_the_server_closed_is_replaced(one_lane: PostgresDatabase) -> None:
    before = await pid(one_lane)
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", before)
    finally:
        await admin.close()
    for _ in range(200):  # until the client has read the server's goodbye
        if one_lane._lanes._idle[0].is_closed():
            break
        await asyncio.sleep(0.01)
    assert await pid(one_lane) != before


async def test_a_cancelled_statement_gives_its_place_to_the_next(
    one_lane: PostgresDatabase,
) -> None:
    before = await pid(one_lane)
    slow = asyncio.create_task(one_lane.fetch_all(SLEEP, {"seconds": 30}))
    await asyncio.sleep(0.2)
    waiting = asyncio.create_task(pid(one_lane))  # waits: the only lane is busy
    await asyncio.sleep(0.05)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    # The cancelled statement's connection is closed, not reused; the waiter opens another.
    after = await asyncio.wait_for(waiting, 10)
    assert after != before


async def test_a_waiter_cancelled_before_its_turn_loses_nobody_s_place(
    one_lane: PostgresDatabase,
) -> None:
    slow = asyncio.create_task(one_lane.fetch_all(SLEEP, {"seconds": 0.3}))
    await asyncio.sleep(0.1)
    given_up = asyncio.create_task(pid(one_lane))
    patient = asyncio.create_task(pid(one_lane))
    await asyncio.sleep(0.05)
    given_up.cancel()
    await slow
    assert await asyncio.wait_for(patient, 10) > 0
    assert given_up.cancelled()
    assert one_lane._lanes._open == 1


async def test_connecting_opens_few_connections(db_url: str) -> None:
    db = await connect(db_url)
    try:
        await pid(db)  # one statement: one lane
        count = RawStatement(
            "postgresql",
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()",
            (),
        )
        # The pool's first connection and one lane (asyncpg's default would open ten).
        assert await db.fetch_val(count) == 2
    finally:
        await db.disconnect()


async def test_a_free_place_handed_to_a_cancelled_waiter_goes_to_the_next(
    one_lane: PostgresDatabase,
) -> None:
    await pid(one_lane)
    lanes = one_lane._lanes
    first = asyncio.create_task(pid(one_lane))
    second = asyncio.create_task(pid(one_lane))
    lanes._idle.pop().terminate()  # the only connection is now "busy" from their view
    await asyncio.sleep(0.01)  # both wait: the place is taken
    assert len(lanes._waiters) == 2
    lanes._free_place()  # the place comes free and goes to the first waiter...
    first.cancel()  # ...which is cancelled before it can use it
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, 10) > 0
    assert lanes._open == 1
