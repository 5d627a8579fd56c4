"""Draft revisions over HTTP: the in-process draft cache, several server processes on one
database, a browser that missed a response, and a double click on "Valider"."""

from __future__ import annotations

import asyncio
from html import unescape
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from renderer import wizard_state as ws
from renderer.draft_cache import COOKIE
from storage import drafts
from storage.tables import drafts as drafts_table
from storage.tables import outbox, requests
from tests.renderer import journey
from tests.renderer.conftest import EXAMPLE_PACK, FIXED_NOW, csrf_token_of, run_in_app

TODAY = FIXED_NOW.date()
PROC = "acte-naissance"
BASE = f"/demarches/{PROC}/etapes/"
SECRET = "test-" + "s" * 40  # the same key in every "process", as in a real deployment


def stored(client: Any) -> drafts.Draft | None:
    async def load(db: Any) -> drafts.Draft | None:
        row = await db.fetch_one(sa.select(drafts_table.c.session_id))
        return None if row is None else await drafts.load_draft(db, row["session_id"], PROC)

    return run_in_app(client, load, client.app.state.db)  # type: ignore[no-any-return]


def count(client: Any, table: sa.Table) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    return int(run_in_app(client, client.app.state.db.fetch_val, query))


def applicant(nom: str) -> list[tuple[str, str]]:
    return list({**journey.APPLICANT, "nom": nom}.items())


class Browser:
    """One cookie jar over several server processes (clients of apps sharing a database)."""

    def __init__(self, *clients: Any) -> None:
        self.clients = clients
        self.jar = httpx.Cookies()

    def on(self, n: int) -> Any:
        client = self.clients[n]
        client.cookies = self.jar  # a copy of each cookie, domain and path included
        return client

    def sync(self, n: int) -> None:
        self.jar = httpx.Cookies(self.clients[n].cookies)

    def post(self, n: int, step: str, pairs: list[tuple[str, str]]) -> Any:
        response = journey.post(self.on(n), BASE + step, pairs)
        self.sync(n)
        return response

    def get(self, n: int, step: str) -> str:
        text = str(self.on(n).get(BASE + step).text)
        self.sync(n)
        return unescape(text)


def test_the_page_after_a_write_uses_the_draft_just_written(
    example_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = example_client
    journey.post(client, BASE + ws.INTRO, [])
    response = journey.post(client, BASE + ws.APPLICANT, applicant("Dupont"))
    assert response.status_code == 303
    draft = stored(client)
    assert draft is not None and client.cookies[COOKIE] == draft.rev

    reads: list[str] = []
    real = drafts.load_draft

    async def counted(*args: Any) -> Any:
        reads.append(args[1])
        return await real(*args)

    monkeypatch.setattr(drafts, "load_draft", counted)
    assert 'value="Dupont"' in client.get(BASE + ws.APPLICANT).text
    assert reads == []
    # A write this process did not see.
    client.cookies.set(COOKIE, "another-revision", "testserver.local", "/demarches/")
    assert 'value="Dupont"' in client.get(BASE + ws.APPLICANT).text
    assert len(reads) == 1


def test_processes_sharing_a_database_show_the_latest_draft(
    client_factory: Any, db_url: str
) -> None:
    first = client_factory(EXAMPLE_PACK, db_url=db_url, secret_key=SECRET)
    second = client_factory(EXAMPLE_PACK, db_url=db_url, secret_key=SECRET)
    browser = Browser(first, second)
    assert browser.post(0, ws.INTRO, []).status_code == 303
    assert browser.post(0, ws.APPLICANT, applicant("Dupont")).status_code == 303
    assert 'value="Dupont"' in browser.get(1, ws.APPLICANT)
    assert browser.post(1, ws.APPLICANT, applicant("Durand")).status_code == 303
    # The first process still holds the "Dupont" revision; the cookie names the newer one.
    page = browser.get(0, ws.APPLICANT)
    assert 'value="Durand"' in page and 'value="Dupont"' not in page


def test_a_browser_that_missed_a_response_loses_no_answer(client_factory: Any, db_url: str) -> None:
    first = client_factory(EXAMPLE_PACK, db_url=db_url, secret_key=SECRET)
    second = client_factory(EXAMPLE_PACK, db_url=db_url, secret_key=SECRET)
    proc = first.app.state.pack.procedures[PROC]
    step = f"{ws.REQUEST_PREFIX}{proc.steps[0].id}"
    browser = Browser(first, second)
    browser.post(0, ws.INTRO, [])
    browser.post(0, ws.APPLICANT, applicant("Dupont"))
    old_jar = httpx.Cookies(browser.jar)
    # The second process stores the first request step, but its answer never reaches the
    # browser, which keeps the older revision in its cookie.
    assert browser.post(1, step, journey.step_pairs(proc, proc.steps[0].id, TODAY)).status_code
    browser.jar = old_jar
    # Back on the first process, which holds the older revision: its save is refused by
    # the database, and the step is applied again on the stored draft.
    assert browser.post(0, ws.APPLICANT, applicant("Durand")).status_code == 303
    draft = stored(first)
    assert draft is not None
    assert draft.data["applicant"]["nom"] == "Durand"
    assert step in draft.data["done"] and draft.data["values"]
    assert browser.jar[COOKIE] == draft.rev


def test_a_double_click_on_valider_makes_one_request(client_factory: Any, db_url: str) -> None:
    client = client_factory(EXAMPLE_PACK, db_url=db_url)
    proc = client.app.state.pack.procedures[PROC]
    summary = journey.fill_draft(client, proc, TODAY)
    token = csrf_token_of(client.get(summary).text)
    cookies = httpx.Cookies(client.cookies)

    async def two_clicks() -> list[httpx.Response]:
        # Both requests in flight at once, in the app's event loop, with the same cookies.
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver.local", cookies=cookies
        ) as browser:
            click = browser.post(summary, data={"csrf_token": token})
            return list(
                await asyncio.gather(click, browser.post(summary, data={"csrf_token": token}))
            )

    responses = run_in_app(client, two_clicks)
    locations = sorted(r.headers["location"] for r in responses)
    assert [r.status_code for r in responses] == [303, 303]
    assert locations[0].startswith(f"/demarches/{PROC}/confirmation?ref=")
    assert locations[1] == summary
    assert count(client, requests) == 1
    assert count(client, outbox) == 1
    assert stored(client) is None
    # The refused click's page: no draft any more, so back to the first step, with a word.
    refused = next(r for r in responses if r.headers["location"] == summary)
    client.cookies = cookies
    for cookie in refused.cookies.jar:  # what the browser keeps from that answer
        client.cookies.jar.set_cookie(cookie)
    landing = client.get(summary)
    assert landing.url.path == BASE + ws.INTRO
    assert ws.DRAFT_CHANGED.split("(")[0] in unescape(landing.text)

    # A third click, after both answers: no draft, nothing stored.
    client.cookies = cookies
    third = client.post(summary, data={"csrf_token": token}, follow_redirects=False)
    assert third.status_code == 303
    assert count(client, requests) == 1


@pytest.fixture
def example_client(client_factory: Any) -> Any:
    return client_factory(EXAMPLE_PACK)


def test_files_sent_to_a_process_holding_an_older_revision_are_kept(
    client_factory: Any, db_url: str
) -> None:
    first = client_factory(EXAMPLE_PACK, db_url=db_url, secret_key=SECRET)
    second = client_factory(EXAMPLE_PACK, db_url=db_url, secret_key=SECRET)
    proc = first.app.state.pack.procedures[PROC]
    pieces = journey.fill_draft(first, proc, TODAY, until=ws.DOCUMENTS)
    browser = Browser(first, second)
    browser.jar = httpx.Cookies(first.cookies)
    old_jar = httpx.Cookies(browser.jar)
    assert browser.post(1, ws.APPLICANT, applicant("Durand")).status_code == 303
    browser.jar = old_jar  # that answer was lost
    # The upload reaches the first process, whose save meets the newer revision: the
    # step runs again on the stored draft, reading the same files again.
    response = journey.upload_all(browser.on(0), proc, pieces)
    assert response.status_code == 303, journey.errors_in(response.text)
    draft = stored(first)
    assert draft is not None and draft.data["applicant"]["nom"] == "Durand"
    sizes = [[f["size"] for f in doc["files"]] for doc in draft.data["documents"]]
    assert sizes and all(
        files and set(files) <= {len(journey.TINY_PDF), len(journey.TINY_PNG)} for files in sizes
    ), sizes
