"""Fixtures for storage tests: a migrated database on each backend, a fixed clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from storage.db import Database, connect
from storage.migrations import migrate

NOW = dt.datetime(2026, 3, 14, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = await connect(db_url)
    await migrate(database)
    try:
        yield database
    finally:
        await database.disconnect()
