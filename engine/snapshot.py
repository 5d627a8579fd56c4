"""Procedure snapshots: the canonical, JSON-able content of a procedure, and its version.

A snapshot has every default applied and the procedure's document types and workflow embedded,
so it says everything a citizen sees of the procedure and nothing about the files it came from.
Its keys are the attribute names of ``engine.model``. Storage keeps the snapshot of every
version a request was filed under; ``procedure_from_snapshot`` rebuilds the same
``Procedure``, and the compiler goes through it too, so there is one builder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from engine.model import (
    Access,
    Appointment,
    Choice,
    DocumentRequirement,
    DocumentType,
    Exchanges,
    Field,
    Notification,
    OpenWindow,
    Procedure,
    Quota,
    Source,
    State,
    Step,
    Transition,
    Workflow,
)

Snapshot = dict[str, Any]
PARIS = ZoneInfo("Europe/Paris")
DEFAULT_QUOTA_MESSAGE = "Le nombre maximum de demandes est atteint."


def version_of(snapshot: Mapping[str, Any]) -> str:
    """First 16 hex digits of the sha256 of the snapshot's canonical JSON."""
    text = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# --- YAML dicts -> snapshot --------------------------------------------------------------------


def procedure_snapshot(resolved: Mapping[str, Any]) -> Snapshot:
    """The canonical snapshot of a resolved procedure.

    ``resolved`` is the procedure's YAML mapping with ``id`` set, each ``documents[].type``
    replaced by the document type's mapping (with its ``id``) and ``workflow`` replaced by the
    workflow's mapping (with its ``id``).
    """
    r = resolved
    access = r.get("access") or {}
    window = r.get("open") or {}
    quota = r.get("quota")
    appointment = r.get("appointment") or {}
    exchanges = r.get("exchanges") or {}
    return {
        "id": r["id"],
        "title": r["title"],
        "theme": r["theme"],
        "service": r["service"],
        "summary": r.get("summary", ""),
        "keywords": list(r.get("keywords") or []),
        "help": r.get("help", ""),
        "max_duration": r.get("max_duration", ""),
        "access": {
            "requires_account": bool(access.get("requires_account", False)),
            "activation_key": bool(access.get("activation_key", False)),
            "family_only": bool(access.get("family_only", False)),
        },
        "open": {"start": window.get("from"), "end": window.get("until")},
        "quota": None
        if quota is None
        else {
            "max": quota["max"],
            "per": quota.get("per", "total"),
            "scope": quota.get("scope", "portal"),
            "message": quota.get("message", DEFAULT_QUOTA_MESSAGE),
        },
        "appointment": {
            "mode": appointment.get("mode", "none"),
            "agenda": appointment.get("agenda"),
        },
        "exchanges": {
            "enabled": bool(exchanges.get("enabled", False)),
            "citizen_can_start": bool(exchanges.get("citizen_can_start", False)),
        },
        "documents": [_document(d) for d in r.get("documents") or []],
        "steps": [_step(s) for s in r["steps"]],
        "workflow": workflow_snapshot(r["workflow"]),
        "acknowledgement": r.get("acknowledgement", ""),
    }


def document_type_snapshot(data: Mapping[str, Any]) -> Snapshot:
    """A document type with its defaults (``data`` holds its ``id``)."""
    return {
        "id": data["id"],
        "label": data["label"],
        "help": data.get("help", ""),
        "max_files": data.get("max_files", 4),
        "accepted_types": list(data.get("accepted_types") or []),
    }


def workflow_snapshot(data: Mapping[str, Any]) -> Snapshot:
    """A workflow with its defaults (``data`` holds its ``id``); states keep their order."""
    return {
        "id": data["id"],
        "label": data["label"],
        "initial": data["initial"],
        "cancel_to": data.get("cancel_to"),
        "states": [_state(k, v) for k, v in data["states"].items()],
        "transitions": [_transition(t) for t in data.get("transitions") or []],
    }


def _document(doc: Mapping[str, Any]) -> Snapshot:
    return {
        "type": document_type_snapshot(doc["type"]),
        "required": bool(doc.get("required", False)),
        "visible_if": doc.get("visible_if"),
        "help": doc.get("help", ""),
    }


def _step(step: Mapping[str, Any]) -> Snapshot:
    return {
        "id": step["id"],
        "title": step["title"],
        "intro": step.get("intro", ""),
        "visible_if": step.get("visible_if"),
        "fields": [_field(f) for f in step["fields"]],
    }


def _field(f: Mapping[str, Any]) -> Snapshot:
    ftype = f["type"]
    is_date, is_group = ftype == "date", ftype == "group"
    bounds = not is_date and not is_group
    display = "checkboxes" if ftype == "multichoice" else f.get("display", "radio")
    return {
        "id": f["id"],
        "type": ftype,
        "label": f.get("label", ""),
        "help": f.get("help", ""),
        "required": bool(f.get("required", False)),
        "visible_if": f.get("visible_if"),
        "min_length": f.get("min_length"),
        "max_length": f.get("max_length"),
        "pattern": f.get("pattern"),
        "pattern_message": f.get("pattern_message"),
        "min": _float(f.get("min")) if bounds else None,
        "max": _float(f.get("max")) if bounds else None,
        "integer": bool(f.get("integer", False)),
        "date_min": f.get("min") if is_date else None,
        "date_max": f.get("max") if is_date else None,
        "choices": [_choice(c) for c in f.get("choices") or []],
        "display": display,
        "text": f.get("text", ""),
        "fields": [_field(sub) for sub in f.get("fields") or []],
        "min_items": f.get("min", 0) if is_group else 0,
        "max_items": f.get("max", 10) if is_group else 10,
        "add_label": f.get("add_label", "Ajouter"),
    }


def _float(value: Any) -> float | None:
    # 1 and 1.0 are the same bound: one spelling keeps the version stable.
    return None if value is None else float(value)


def _choice(choice: Any) -> Snapshot:
    if isinstance(choice, Mapping):
        return {"value": str(choice["value"]), "label": str(choice["label"])}
    return {"value": str(choice), "label": str(choice)}


def _state(state_id: str, state: Mapping[str, Any]) -> Snapshot:
    notify = state.get("notify")
    return {
        "id": state_id,
        "label": state["label"],
        "final": bool(state.get("final", False)),
        "citizen_can_cancel": bool(state.get("citizen_can_cancel", False)),
        "notify": None
        if notify is None
        else {"subject": notify["subject"], "body": notify["body"]},
    }


def _transition(t: Mapping[str, Any]) -> Snapshot:
    sources = t["from"] if isinstance(t["from"], list) else [t["from"]]
    return {
        "id": t["id"],
        "label": t["label"],
        "sources": list(sources),
        "target": t["to"],
        "by": list(t.get("by") or ["agent"]),
    }


# --- snapshot -> model -------------------------------------------------------------------------


def procedure_from_snapshot(snapshot: Mapping[str, Any], source: Source | None = None) -> Procedure:
    """Rebuild the compiled ``Procedure`` of a snapshot (its version included)."""
    s = snapshot
    quota = s["quota"]
    return Procedure(
        id=s["id"],
        title=s["title"],
        theme=s["theme"],
        service=s["service"],
        summary=s["summary"],
        keywords=tuple(s["keywords"]),
        help=s["help"],
        max_duration=s["max_duration"],
        access=Access(**s["access"]),
        open=OpenWindow(_day_start(s["open"]["start"]), _day_end(s["open"]["end"])),
        quota=None if quota is None else Quota(**quota),
        appointment=Appointment(**s["appointment"]),
        exchanges=Exchanges(**s["exchanges"]),
        documents=tuple(_document_model(d) for d in s["documents"]),
        steps=tuple(_step_model(st) for st in s["steps"]),
        workflow=workflow_from_snapshot(s["workflow"]),
        acknowledgement=s["acknowledgement"],
        version=version_of(snapshot),
        source=source,
    )


def document_type_from_snapshot(d: Mapping[str, Any]) -> DocumentType:
    """The ``DocumentType`` of a document type snapshot."""
    return DocumentType(
        id=d["id"],
        label=d["label"],
        help=d["help"],
        max_files=d["max_files"],
        accepted_types=tuple(d["accepted_types"]),
    )


def workflow_from_snapshot(w: Mapping[str, Any]) -> Workflow:
    """The ``Workflow`` of a workflow snapshot."""
    return Workflow(
        id=w["id"],
        label=w["label"],
        initial=w["initial"],
        cancel_to=w["cancel_to"],
        states=tuple(
            State(
                id=st["id"],
                label=st["label"],
                final=st["final"],
                citizen_can_cancel=st["citizen_can_cancel"],
                notify=None if st["notify"] is None else Notification(**st["notify"]),
            )
            for st in w["states"]
        ),
        transitions=tuple(
            Transition(
                id=t["id"],
                label=t["label"],
                sources=tuple(t["sources"]),
                target=t["target"],
                by=tuple(t["by"]),
            )
            for t in w["transitions"]
        ),
    )


def _document_model(d: Mapping[str, Any]) -> DocumentRequirement:
    return DocumentRequirement(
        type=document_type_from_snapshot(d["type"]),
        required=d["required"],
        visible_if=d["visible_if"],
        help=d["help"],
    )


def _step_model(st: Mapping[str, Any]) -> Step:
    return Step(
        id=st["id"],
        title=st["title"],
        intro=st["intro"],
        visible_if=st["visible_if"],
        fields=tuple(_field_model(f) for f in st["fields"]),
    )


def _field_model(f: Mapping[str, Any]) -> Field:
    values = dict(f)
    values["choices"] = tuple(Choice(**c) for c in f["choices"])
    values["fields"] = tuple(_field_model(sub) for sub in f["fields"])
    return Field(**values)


def _day_start(day: str | None) -> dt.datetime | None:
    if day is None:
        return None
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time.min, tzinfo=PARIS)


def _day_end(day: str | None) -> dt.datetime | None:
    if day is None:
        return None
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time.max, tzinfo=PARIS)
