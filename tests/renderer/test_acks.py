"""The acknowledgement composed by the mail worker from the stored request."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa

from renderer import acks
from storage.outbox import compose_all
from storage.tables import outbox
from tests.renderer import journey
from tests.renderer.conftest import EXAMPLE_PACK, FIXED_NOW, run_in_app

TODAY = FIXED_NOW.date()


async def _compose_and_read(db: Any, composer: Any) -> dict[str, Any]:
    assert await compose_all(db, composer) == 1
    row = await db.fetch_one(sa.select(outbox))
    assert row is not None
    return dict(row)


def test_the_acknowledgement_is_composed_with_the_version_the_request_was_filed_under(
    client_factory: Any,
) -> None:
    client = client_factory(EXAMPLE_PACK)
    state = client.app.state
    proc = state.pack.procedures["acte-naissance"]
    journey.fill_draft(client, proc, TODAY)
    assert journey.submit(client, proc).status_code == 303

    # The YAML changes (a new version) before the worker's round.
    changed = dataclasses.replace(proc, version="f" * 16, title="Titre d'une autre version")
    pack = dataclasses.replace(state.pack, procedures={**state.pack.procedures, proc.id: changed})
    composer = acks.composer(pack, state.settings.base_url)
    row = run_in_app(client, _compose_and_read, state.db, composer)

    assert "Votre demande d'acte de naissance a bien été reçue" in row["text_body"]
    assert "autre version" not in row["text_body"] + row["html_body"]
    assert row["subject"].startswith("Accusé de réception de votre demande DEM-2026-")
    assert row["to_addr"] == "marie.dupont@example.org"
    token = journey.tracking_token(row["text_body"])
    assert client.get(f"/suivi/{token}").status_code == 200
