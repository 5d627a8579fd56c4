"""Uploaded files are swept with the draft purge: an expired draft's files go, a submitted
request's files stay, and a file younger than the grace period is never swept."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from typing import Any

from renderer import wizard_state as ws
from renderer.app import FILE_SWEEP_GRACE_SECONDS, purge_round
from tests.renderer import journey
from tests.renderer.conftest import EXAMPLE_PACK, FIXED_NOW, csrf_token_of, run_in_app

TODAY = FIXED_NOW.date()
DRAFT_PDF = journey.TINY_PDF + b"% only in a draft\n"


def _age_every_file(client: Any, seconds: float) -> None:
    store = client.app.state.files
    old = time.time() - seconds
    for sha in store.all():
        os.utime(store.path(sha), (old, old))


def _draft_with_a_file(client: Any, procedure_id: str) -> str:
    proc = client.app.state.pack.procedures[procedure_id]
    url = journey.fill_draft(client, proc, TODAY, until=ws.DOCUMENTS)
    assert url.endswith(ws.DOCUMENTS)
    page = client.get(url).text
    name = journey.re.findall(r'type="file" id="[^"]+" name="(piece-[a-z0-9-]+)"', page)[0]
    response = client.post(
        url,
        data={"csrf_token": csrf_token_of(page), "_upload": "1"},
        files=[(name, ("brouillon.pdf", DRAFT_PDF, "application/pdf"))],
        follow_redirects=False,
    )
    assert response.status_code == 303
    return hashlib.sha256(DRAFT_PDF).hexdigest()


def test_an_expired_drafts_files_are_swept_and_a_requests_files_stay(
    client_factory: Any, db_url: str
) -> None:
    client = client_factory(EXAMPLE_PACK, db_url=db_url)
    store = client.app.state.files
    journey.submitted(client, client.app.state.pack.procedures["inscription-periscolaire"], TODAY)
    submitted_sha = hashlib.sha256(journey.TINY_PDF).hexdigest()
    draft_sha = _draft_with_a_file(client, "acte-naissance")
    assert store.exists(submitted_sha) and store.exists(draft_sha)

    # Within the draft's lifetime, old files it references are kept.
    _age_every_file(client, FILE_SWEEP_GRACE_SECONDS * 2)
    run_in_app(client, purge_round, client.app)
    assert store.exists(draft_sha) and store.exists(submitted_sha)

    ttl = client.app.state.settings.draft_ttl_hours
    client.app.state.now.now = FIXED_NOW + dt.timedelta(hours=ttl + 1)
    run_in_app(client, purge_round, client.app)
    assert not store.exists(draft_sha)
    assert store.exists(submitted_sha)


def test_a_fresh_file_of_an_expired_draft_waits_for_the_grace_period(
    client_factory: Any,
) -> None:
    client = client_factory(EXAMPLE_PACK)
    store = client.app.state.files
    draft_sha = _draft_with_a_file(client, "acte-naissance")
    ttl = client.app.state.settings.draft_ttl_hours
    client.app.state.now.now = FIXED_NOW + dt.timedelta(hours=ttl + 1)
    run_in_app(client, purge_round, client.app)
    assert store.exists(draft_sha)  # uploaded moments ago: maybe about to be saved
    _age_every_file(client, FILE_SWEEP_GRACE_SECONDS + 60)
    run_in_app(client, purge_round, client.app)
    assert not store.exists(draft_sha)
