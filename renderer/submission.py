"""Submitting a draft: re-validate everything, check the rules again, store, acknowledge.

The récapitulatif's POST ends here. Nothing typed earlier is trusted: every step is parsed
again from the stored draft values, hidden values are dropped by ``engine.rules``, and the
quota is claimed inside the storage transaction (``storage.requests.submit``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request

from engine import rules
from engine.model import Procedure
from engine.snapshot import version_of
from renderer import forms, mail
from renderer import wizard_state as ws
from storage import requests as store
from storage.outbox import Mail

PARIS = ZoneInfo("Europe/Paris")
PIECE_REQUIRED = "Ajoutez au moins un fichier pour cette pièce."


_SNAPSHOTS: dict[str, dict[str, Any]] = {}


def _without_sources(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_sources(v) for k, v in value.items() if k != "source"}
    if isinstance(value, list | tuple):
        return [_without_sources(v) for v in value]
    return value


def snapshot_of(proc: Procedure) -> dict[str, Any]:
    """The snapshot a compiled procedure was built from (checked against its version).

    The compiler builds every procedure through ``engine.snapshot``, whose keys are the
    model's attribute names, so the model converts back; the window goes back to the
    YAML's Paris dates. Cached per version.
    """
    found = _SNAPSHOTS.get(proc.version)
    if found is not None:
        return found
    data = _without_sources(dataclasses.asdict(proc))
    del data["version"]
    window = proc.open
    data["open"] = {
        "start": window.start.astimezone(PARIS).date().isoformat() if window.start else None,
        "end": window.end.astimezone(PARIS).date().isoformat() if window.end else None,
    }
    data = json.loads(json.dumps(data))
    if version_of(data) != proc.version:
        raise ValueError(f"cannot rebuild the snapshot of procedure {proc.id!r}")
    _SNAPSHOTS[proc.version] = data
    return data


def today_in_paris(now: dt.datetime) -> dt.date:
    return now.astimezone(PARIS).date()


def quota_claim(proc: Procedure, now: dt.datetime) -> store.QuotaClaim | None:
    """The counter a submission takes a place in (anonymous requests: the portal scope)."""
    if proc.quota is None:
        return None
    key = rules.quota_period_key(proc.quota.per, now)
    return store.QuotaClaim(period_key=key, scope_key="portal", max=proc.quota.max)


def invalid_step(proc: Procedure, draft: dict[str, Any], today: dt.date) -> str | None:
    """The key of the first step whose stored values no longer validate, or None."""
    parsed = forms.parse_step(
        proc,
        forms.APPLICANT_FORM,
        forms.as_formdata(forms.APPLICANT_STEP, draft["applicant"]),
        {},
        today,
    )
    if not parsed.ok:
        return ws.APPLICANT
    values = draft["values"]
    for step in rules.visible_steps(proc, values):
        sf = forms.step_form(proc, step)
        parsed = forms.parse_step(proc, sf, forms.as_formdata(step, values), values, today)
        if not parsed.ok:
            return ws.REQUEST_PREFIX + step.id
    for doc in rules.visible_documents(proc, values):
        if doc.required and not ws.pieces_of(draft, doc.type.id):
            return ws.DOCUMENTS
    return None


def pieces(proc: Procedure, draft: dict[str, Any]) -> list[store.Piece]:
    """The draft's files of the documents still asked for, as storage pieces."""
    out = []
    for doc in rules.visible_documents(proc, draft["values"]):
        files = ws.pieces_of(draft, doc.type.id)
        if files:
            stored = [store.StoredFile(**f) for f in files]
            out.append(store.Piece(doc.type.id, doc.type.label, stored))
    return out


@dataclass(frozen=True)
class Outcome:
    reference: str | None  # None: the quota was reached
    email: str


async def submit(request: Request, proc: Procedure, draft: dict[str, Any]) -> Outcome:
    """Store the request with its acknowledgement; Outcome(None) when the quota is full."""
    state = request.app.state
    now = state.now()
    values = rules.visible_values(proc, draft["values"])
    kept = pieces(proc, draft)
    documents = [
        {"type": p.document_type, "files": [dataclasses.asdict(f) for f in p.files]} for p in kept
    ]
    applicant = draft["applicant"]
    appointment = draft.get("appointment") if ws.has_appointment(proc) else None

    def compose(reference: str, token: str) -> Mail:
        return mail.compose_ack(
            portal=state.pack.portal,
            proc=proc,
            applicant=applicant,
            values=values,
            documents=documents,
            appointment=appointment,
            reference=reference,
            token=token,
            base_url=state.settings.base_url,
            mail_from=state.settings.mail_from,
        )

    assert proc.workflow is not None, "a compiled procedure always has its workflow"
    new = store.NewRequest(
        procedure_id=proc.id,
        version=proc.version,
        snapshot=snapshot_of(proc),
        state=proc.workflow.initial,
        applicant=applicant,
        data=values,
        pieces=kept,
        appointment=appointment,
        quota=quota_claim(proc, now),
    )
    try:
        done = await store.submit(state.db, new, now, compose)
    except store.QuotaReached:
        return Outcome(None, str(applicant.get("courriel", "")))
    return Outcome(done.reference, str(applicant.get("courriel", "")))
