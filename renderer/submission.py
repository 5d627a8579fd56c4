"""Submitting a draft: re-validate everything, check the rules again, store, acknowledge.

The récapitulatif's POST ends here. Nothing typed earlier is trusted: every step is parsed
again from the stored draft values unless its validation stamp shows that these very values
were validated under the same conditions (``renderer.stamps`` says why that is as strong),
hidden values are dropped by ``engine.rules``, and the quota is claimed inside the storage
transaction (``storage.requests.submit``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request

from engine import rules
from engine.model import Procedure
from renderer import forms, stamps
from renderer import wizard_state as ws
from storage import requests as store

PARIS = ZoneInfo("Europe/Paris")
PIECE_REQUIRED = "Ajoutez au moins un fichier pour cette pièce."


def today_in_paris(now: dt.datetime) -> dt.date:
    return now.astimezone(PARIS).date()


PORTAL_SCOPE = "portal"


def quota_claim(
    proc: Procedure, now: dt.datetime, account_id: int | None = None
) -> store.QuotaClaim | None:
    """The quota counter a submission of ``proc`` at ``now`` counts against (None: no quota).

    A ``portal`` quota is one counter for everyone; an ``account`` one, a counter per account
    (such a procedure requires an account, so anonymous requests never reach it).
    """
    if proc.quota is None:
        return None
    scope = PORTAL_SCOPE if proc.quota.scope == "portal" else f"account:{account_id}"
    period = rules.quota_period_key(proc.quota.per, now)
    return store.QuotaClaim(period_key=period, scope_key=scope, max=proc.quota.max)


def invalid_step(
    proc: Procedure, draft: dict[str, Any], shown: rules.Visibility, today: dt.date
) -> str | None:
    """The key of the first step whose stored values no longer validate, or None.

    ``shown`` is the visibility of the draft's values. A step whose validation stamp still
    matches (``renderer.stamps``: same code, version, day, own values and values its
    conditions read) validated with these very inputs and is not parsed again.
    """
    applicant = draft["applicant"]
    if not _still_valid(proc, draft, ws.APPLICANT, forms.APPLICANT_FORM, applicant, today):
        return ws.APPLICANT
    values = draft["values"]
    for step in shown.steps:
        key = ws.REQUEST_PREFIX + step.id
        if not _still_valid(proc, draft, key, forms.step_form(proc, step), values, today):
            return key
    for doc in shown.documents:
        if doc.required and not ws.pieces_of(draft, doc.type.id):
            return ws.DOCUMENTS
    return None


def _still_valid(
    proc: Procedure,
    draft: dict[str, Any],
    key: str,
    sf: forms.StepForm,
    own: dict[str, Any],
    today: dt.date,
) -> bool:
    values = draft["values"]
    if stamps.is_current(draft, key, stamps.stamp(proc, key, sf.step, own, values, today)):
        return True
    earlier = {} if sf is forms.APPLICANT_FORM else values
    return forms.parse_step(proc, sf, forms.as_formdata(sf.step, own), earlier, today).ok


def pieces(shown: rules.Visibility, draft: dict[str, Any]) -> list[store.Piece]:
    """The draft's files of the documents still asked for, as storage pieces."""
    out = []
    for doc in shown.documents:
        files = ws.pieces_of(draft, doc.type.id)
        if files:
            stored = [store.StoredFile(**f) for f in files]
            out.append(store.Piece(doc.type.id, doc.type.label, stored))
    return out


async def submit(
    request: Request,
    proc: Procedure,
    draft: dict[str, Any],
    shown: rules.Visibility,
    ref: store.DraftRef,
) -> str | None:
    """Store the request with its acknowledgement (queued for the mail worker, which composes
    it: `renderer.acks`) and delete the draft (``ref``: its session and revision) in the
    same transaction; the request's reference. None, and the draft kept, when the quota is
    full; `storage.drafts.DraftConflict`, and nothing written, when the stored draft is no
    longer that revision (submitted already, or changed in another tab).

    ``shown`` is the visibility of the draft's values (``engine.rules.visibility``).
    """
    state = request.app.state
    now = state.now()
    kept = pieces(shown, draft)
    applicant = draft["applicant"]
    appointment = draft.get("appointment") if ws.has_appointment(proc) else None

    assert proc.workflow is not None, "a compiled procedure always has its workflow"
    new = store.NewRequest(
        procedure_id=proc.id,
        version=proc.version,
        snapshot=dict(proc.snapshot),
        state=proc.workflow.initial,
        applicant=applicant,
        data=shown.values,
        pieces=kept,
        appointment=appointment,
        quota=quota_claim(proc, now),
        draft=ref,
        ack_to=str(applicant.get("courriel", "")) or None,
    )
    try:
        # The draft goes with the request it became; a refused or failed submission keeps it.
        done = await store.submit(state.db, new, now)
    except store.QuotaReached:
        return None
    return done.reference
