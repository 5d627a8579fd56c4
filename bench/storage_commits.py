"""Benchmark: the storage driver layer, side by side with the stdlib sqlite3 module.

Usage: python bench/storage_commits.py [--seconds S] [--pg URL] [--no-pg]

Measures, on a temporary SQLite file (WAL, synchronous=NORMAL) and on a fresh PostgreSQL
database (skipped when unreachable), one task at a time:
- commits/s: a transaction inserting one row with a cached `Statement` (stdlib sqlite3
  with the same durability as the reference: ``BEGIN IMMEDIATE; INSERT; COMMIT``), and
  the same with an ad-hoc SQLAlchemy statement compiled on every call;
- submit/s: ``storage.requests.submit`` of a request with one piece, a quota and an
  acknowledgement mail (the whole submission transaction), by one task and by 8 tasks at
  once (on PostgreSQL they overlap on the pool's connections but queue on the year's
  reference counter row);
- draft load/s and draft save/s: ``storage.drafts.load_draft`` / ``save_draft`` of a
  draft of about 2 KB of JSON;
- tracking/s: ``storage.requests.get_by_token`` (request, snapshot, history, pieces).
Each figure is the best of 3 runs of ``--seconds`` seconds. Figures only compare with
each other from the same run (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.db import Database, Statement, connect  # noqa: E402
from storage.drafts import load_draft, save_draft  # noqa: E402
from storage.migrations import migrate  # noqa: E402
from storage.requests import (  # noqa: E402
    NewRequest,
    Piece,
    QuotaClaim,
    StoredFile,
    get_by_token,
    submit,
)

PG_URL = os.environ.get("GUICHET_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
NOW = dt.datetime(2026, 3, 14, 9, 30, tzinfo=dt.UTC)
SNAPSHOT = {"id": "bench", "steps": [{"id": f"s{i}", "title": "Étape " * 20} for i in range(40)]}
DRAFT = {"applicant": {f"champ-{i}": "Valeur accentuée é" * 3 for i in range(30)}}
BENCH_TABLE = "bench_commits"


def _new_request() -> NewRequest:
    piece = Piece(
        "justificatif", "Justificatif", [StoredFile("a" * 64, "f.pdf", "application/pdf", 10)]
    )
    return NewRequest(
        procedure_id="bench",
        version="v1",
        snapshot=SNAPSHOT,
        state="deposee",
        applicant={"nom": "Dupont", "prenom": "Marie", "email": "marie@example.org"},
        data={"champ": "valeur"},
        pieces=[piece],
        quota=QuotaClaim("2026", "", 10**9),
        ack_to="marie@example.org",
    )


async def _rate(seconds: float, op: Callable[[int], Awaitable[object]]) -> float:
    best = 0.0
    counter = 0
    for _ in range(3):
        done = 0
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            for _ in range(20):
                await op(counter)
                counter += 1
                done += 1
        best = max(best, done / elapsed)
    return best


async def _rate_tasks(seconds: float, tasks: int, op: Callable[[int], Awaitable[object]]) -> float:
    """Like `_rate`, with ``tasks`` tasks running ``op`` at once (the page server's case)."""
    best = 0.0
    counter = iter(range(10**9))
    for _ in range(3):
        done = 0
        start = time.perf_counter()

        async def worker(start: float = start) -> None:
            nonlocal done
            while time.perf_counter() - start < seconds:
                await op(next(counter))
                done += 1

        await asyncio.gather(*(worker() for _ in range(tasks)))
        best = max(best, done / (time.perf_counter() - start))
    return best


def stdlib_commits(path: Path, seconds: float) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"CREATE TABLE IF NOT EXISTS {BENCH_TABLE}_raw (id INTEGER PRIMARY KEY, v TEXT)")

    async def commit(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"INSERT INTO {BENCH_TABLE}_raw (v) VALUES (?)", (str(i),))
        conn.execute("COMMIT")

    try:
        return asyncio.run(_rate(seconds, commit))
    finally:
        conn.close()


async def storage_rates(url: str, seconds: float) -> dict[str, float]:
    db = await connect(url)
    try:
        await migrate(db)
        return await _measure(db, seconds)
    finally:
        await db.disconnect()


async def _measure(db: Database, seconds: float) -> dict[str, float]:
    table = sa.table(BENCH_TABLE, sa.column("v"))
    await db.execute(sa.text(f"CREATE TABLE {BENCH_TABLE} (v TEXT)"))

    insert = Statement(table.insert().values(v=sa.bindparam("v")))

    async def commit(i: int) -> None:
        async with db.transaction():
            await db.execute(insert, {"v": str(i)})

    async def commit_adhoc(i: int) -> None:
        async with db.transaction():
            await db.execute(table.insert().values(v=str(i)))

    tokens: list[str] = []

    async def one_submit(i: int) -> None:
        tokens.append((await submit(db, _new_request(), NOW)).token)

    sessions = [uuid.uuid4().hex for _ in range(200)]
    revs: dict[str, str] = {}  # each session's stored revision, which its next save names

    async def save(i: int) -> None:
        sid = sessions[i % 200]
        revs[sid] = await save_draft(db, sid, "bench", "v1", DRAFT, NOW, revs.get(sid))

    async def load(i: int) -> None:
        assert await load_draft(db, sessions[i % 200], "bench") is not None

    async def track(i: int) -> None:
        assert await get_by_token(db, tokens[i % len(tokens)]) is not None

    rates = {"commits": await _rate(seconds, commit)}
    rates["commits, compiled per call"] = await _rate(seconds, commit_adhoc)
    rates["submit"] = await _rate(seconds, one_submit)
    rates["submit, 8 tasks"] = await _rate_tasks(seconds, 8, one_submit)
    rates["draft save"] = await _rate(seconds, save)
    rates["draft load"] = await _rate(seconds, load)
    rates["tracking"] = await _rate(seconds, track)
    return rates


def _fresh_pg(admin_url: str) -> tuple[str, Callable[[], None]] | None:
    try:
        import asyncpg
    except ImportError:
        return None
    name = f"guichet_bench_{uuid.uuid4().hex[:8]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin_url, timeout=3)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    try:
        asyncio.run(run(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # unreachable server: the PostgreSQL column is left out
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        return None
    url = f"{admin_url.rsplit('/', 1)[0]}/{name}"
    return url, lambda: asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--pg", default=PG_URL)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()

    columns: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        columns["stdlib sqlite3"] = {"commits": stdlib_commits(Path(tmp) / "raw.db", args.seconds)}
        url = f"sqlite:///{Path(tmp) / 'guichet.sqlite3'}"
        columns["storage, SQLite"] = asyncio.run(storage_rates(url, args.seconds))
    fresh = None if args.no_pg else _fresh_pg(args.pg)
    if fresh is not None:
        url, drop = fresh
        try:
            columns["storage, PostgreSQL"] = asyncio.run(storage_rates(url, args.seconds))
        finally:
            drop()

    rows = [
        "commits",
        "commits, compiled per call",
        "submit",
        "submit, 8 tasks",
        "draft save",
        "draft load",
        "tracking",
    ]
    print("| operation (per second; 1 task unless it says 8) | " + " | ".join(columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    for row in rows:
        cells = [f"{c[row]:,.0f}" if row in c else "" for c in columns.values()]
        print(f"| {row} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
