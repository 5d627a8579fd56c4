"""The quota under real concurrency: 50 citizens submit at once for the last place.

A real uvicorn server on loopback, each client with its own session cookies and a complete
draft; the counter is filled to max - 1 first. Exactly one confirmation, 49 quota messages,
on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import re
from html import unescape
from typing import Any

import httpx
import pytest

from renderer import wizard_state as ws
from storage.db import connect
from storage.requests import QuotaClaim, claim_quota, quota_used
from tests.renderer import journey
from tests.renderer.conftest import EXAMPLE_PACK, FIXED_NOW
from tests.renderer.live import LiveServer

CLIENTS = 50
PROC = "reservation-salle"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _post(client: httpx.AsyncClient, url: str, pairs: list[tuple[str, str]]) -> Any:
    page = await client.get(url)
    token = CSRF.search(page.text)
    assert token, f"{url}: {page.status_code}"
    data: dict[str, list[str]] = {"csrf_token": [token.group(1)]}
    for key, value in pairs:
        data.setdefault(key, []).append(value)
    return await client.post(url, data=data)


async def _fill(client: httpx.AsyncClient, proc: Any) -> None:
    url = f"/demarches/{PROC}/etapes/{ws.INTRO}"
    while not url.endswith(ws.SUMMARY):
        key = url.rsplit("/", 1)[1]
        if key == ws.APPLICANT:
            response = await _post(client, url, list(journey.APPLICANT.items()))
        elif key.startswith(ws.REQUEST_PREFIX):
            step = key.removeprefix(ws.REQUEST_PREFIX)
            response = await _post(client, url, journey.step_pairs(proc, step, FIXED_NOW.date()))
        elif key == ws.DOCUMENTS:
            page = await client.get(url)
            names = re.findall(r'type="file" id="[^"]+" name="(piece-[a-z0-9-]+)"', page.text)
            token = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
            files = [(n, (f"{n}.pdf", journey.TINY_PDF, "application/pdf")) for n in names]
            response = await client.post(url, data={"csrf_token": token}, files=files)
        else:
            response = await _post(client, url, [])
        assert response.status_code == 303, f"{key}: {response.status_code}"
        url = response.headers["location"]


async def _race(base_url: str, proc: Any) -> list[httpx.Response]:
    clients = [httpx.AsyncClient(base_url=base_url, timeout=120) for _ in range(CLIENTS)]
    try:
        await asyncio.gather(*(_fill(c, proc) for c in clients))
        summary = f"/demarches/{PROC}/etapes/{ws.SUMMARY}"
        tokens = []
        for c in clients:
            page = await c.get(summary)
            tokens.append(CSRF.search(page.text).group(1))  # type: ignore[union-attr]
        start = asyncio.Event()

        async def submit(c: httpx.AsyncClient, token: str) -> httpx.Response:
            await start.wait()
            return await c.post(summary, data={"csrf_token": token})

        tasks = [asyncio.create_task(submit(c, t)) for c, t in zip(clients, tokens, strict=True)]
        await asyncio.sleep(0)
        start.set()
        return list(await asyncio.gather(*tasks))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


async def _fill_counter(db_url: str, claim: QuotaClaim, count: int) -> int:
    db = await connect(db_url)
    try:
        for _ in range(count):
            async with db.transaction():
                await claim_quota(db, PROC, claim)
        return await quota_used(db, PROC, claim.period_key, claim.scope_key)
    finally:
        await db.disconnect()


@pytest.mark.slow
def test_fifty_citizens_for_the_last_place(app_factory: Any, db_url: str, tmp_path: Any) -> None:
    app = app_factory(EXAMPLE_PACK, db_url=db_url)
    url = app.state.settings.db_url
    proc = app.state.pack.procedures[PROC]
    assert proc.quota is not None and proc.quota.per == "month"
    claim = QuotaClaim("2026-06", "portal", proc.quota.max)
    with LiveServer(app) as server:
        assert asyncio.run(_fill_counter(url, claim, proc.quota.max - 1)) == proc.quota.max - 1
        responses = asyncio.run(_race(server.url, proc))
        confirmed = [r for r in responses if r.status_code == 303]
        refused = [r for r in responses if proc.quota.message in unescape(r.text)]
        assert len(confirmed) == 1, [r.status_code for r in responses]
        assert confirmed[0].headers["location"].startswith(f"/demarches/{PROC}/confirmation?ref=")
        assert len(refused) == CLIENTS - 1
        assert asyncio.run(_fill_counter(url, claim, 0)) == proc.quota.max
