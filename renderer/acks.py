"""The acknowledgement, composed by the mail worker from the stored request.

A submission queues its acknowledgement as a template row of the outbox (`storage.outbox`);
the worker composes it with `composer` as it sends it. It is built from what was stored,
exactly as the tracking page shows it: the request's applicant, answers, pieces and
appointment, read with the procedure of its definition version.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict
from typing import Any

from engine import rules
from engine.model import Pack, Procedure
from engine.snapshot import procedure_from_snapshot
from renderer import mail
from storage import requests as store
from storage.db import Database
from storage.outbox import ACK, Composer, Mail

PROCEDURE_CACHE_SIZE = 256
# (procedure id, version) -> the procedure rebuilt from its snapshot, least recent first.
_PROCEDURES: OrderedDict[tuple[str, str], Procedure] = OrderedDict()


def snapshot_procedure(tracked: store.TrackedRequest) -> Procedure:
    """The procedure as it was when the request was filed (LRU per procedure version)."""
    key = (tracked.procedure_id, tracked.version)
    found = _PROCEDURES.get(key)
    if found is None:
        found = _PROCEDURES[key] = procedure_from_snapshot(tracked.snapshot)
        if len(_PROCEDURES) > PROCEDURE_CACHE_SIZE:
            _PROCEDURES.popitem(last=False)
    else:
        _PROCEDURES.move_to_end(key)
    return found


def composer(pack: Pack, base_url: str, mail_from: str = "") -> Composer:
    """The worker's composer of the portal's template mails (the acknowledgement)."""

    async def compose(db: Database, row: dict[str, Any]) -> Mail:
        if row["template"] != ACK:
            raise ValueError(f"unknown mail template {row['template']!r}")
        tracked = await store.get_request(db, row["request_id"], events=False)
        if tracked is None:
            raise LookupError(f"request {row['request_id']} not found")
        proc = pack.procedures.get(tracked.procedure_id)
        if proc is None or proc.version != tracked.version:
            proc = snapshot_procedure(tracked)
        documents = [
            {"type": p.document_type, "files": [asdict(f) for f in p.files]} for p in tracked.pieces
        ]
        return mail.compose_ack(
            portal=pack.portal,
            proc=proc,
            applicant=tracked.applicant,
            shown=rules.visibility(proc, tracked.data),
            documents=documents,
            appointment=tracked.appointment,
            reference=tracked.reference,
            token=row["secret"],
            base_url=base_url,
            mail_from=mail_from,
        )

    return compose
