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
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
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
_Model = TypeVar("_Model", Workflow, DocumentType)
PARIS = ZoneInfo("Europe/Paris")
DEFAULT_QUOTA_MESSAGE = "Le nombre maximum de demandes est atteint."


# The canonical JSON (json.dumps with these options); one encoder, not one per call.
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def version_of(snapshot: Mapping[str, Any]) -> str:
    """First 16 hex digits of the sha256 of the snapshot's canonical JSON."""
    return _digest(_canonical(snapshot))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# --- parts shared by the procedures of a pack --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shared(Generic[_Model]):
    """A workflow or document type prepared once: its snapshot, model and canonical JSON."""

    snapshot: Snapshot
    model: _Model
    text: str


class PackParts:
    """The workflows and document types of one pack, each prepared once for all its procedures.

    A procedure embeds its workflow and document types, and a pack of a thousand procedures
    shares a handful of them: ``compile_shared`` takes them from here instead of snapshotting,
    building and serialising them again for every procedure.
    """

    def __init__(
        self,
        workflows: Mapping[str, Mapping[str, Any]],
        document_types: Mapping[str, Mapping[str, Any]],
    ) -> None:
        """``workflows`` and ``document_types`` map ids to their YAML mappings."""
        self.workflows: dict[str, Shared[Workflow]] = {}
        for key, data in workflows.items():
            snap = workflow_snapshot({**data, "id": key})
            self.workflows[key] = Shared(snap, workflow_from_snapshot(snap), _canonical(snap))
        self.document_types: dict[str, Shared[DocumentType]] = {}
        for key, data in document_types.items():
            snap = document_type_snapshot({**data, "id": key})
            model = document_type_from_snapshot(snap)
            self.document_types[key] = Shared(snap, model, _canonical(snap))


def compile_shared(data: Mapping[str, Any], parts: PackParts, source: Source | None) -> Procedure:
    """The ``Procedure`` of a procedure mapping (with its ``id``) that names its workflow and
    document types by id: the same object, version included, as ``procedure_from_snapshot``
    of its ``procedure_snapshot``, with the shared parts built once.
    """
    workflow = parts.workflows[data.get("workflow", "default")]
    types = [parts.document_types[doc["type"]] for doc in data.get("documents") or []]
    snapshot = _procedure_snapshot(data, workflow.snapshot, [t.snapshot for t in types])
    version = _digest(_composed(snapshot, workflow.text, [t.text for t in types]))
    return _procedure_model(snapshot, version, source, workflow.model, [t.model for t in types])


# Stand-ins for the shared parts while the rest of a snapshot is serialised; their canonical
# text is spliced in afterwards, which gives exactly ``_canonical(snapshot)``.
_WORKFLOW_MARK = "\x00shared workflow\x00"
_TYPE_MARK = "\x00shared document type\x00"
_MARKS = re.compile("|".join(re.escape(_canonical(m)) for m in (_WORKFLOW_MARK, _TYPE_MARK)))


def _composed(snapshot: Snapshot, workflow_text: str, type_texts: list[str]) -> str:
    """``_canonical(snapshot)``, serialising only what is not shared."""
    light = {
        **snapshot,
        "workflow": _WORKFLOW_MARK,
        "documents": [{**doc, "type": _TYPE_MARK} for doc in snapshot["documents"]],
    }
    text = _canonical(light)
    # Keys are sorted: "documents" comes before "workflow".
    expected = [_canonical(_TYPE_MARK)] * len(type_texts) + [_canonical(_WORKFLOW_MARK)]
    if _MARKS.findall(text) != expected:  # a text of the definition holds a mark itself
        return _canonical(snapshot)
    pieces = _MARKS.split(text)
    out = [pieces[0]]
    for fill, piece in zip([*type_texts, workflow_text], pieces[1:], strict=True):
        out += (fill, piece)
    return "".join(out)


# --- YAML dicts -> snapshot --------------------------------------------------------------------


def procedure_snapshot(resolved: Mapping[str, Any]) -> Snapshot:
    """The canonical snapshot of a resolved procedure.

    ``resolved`` is the procedure's YAML mapping with ``id`` set, each ``documents[].type``
    replaced by the document type's mapping (with its ``id``) and ``workflow`` replaced by the
    workflow's mapping (with its ``id``).
    """
    documents = [document_type_snapshot(doc["type"]) for doc in resolved.get("documents") or []]
    return _procedure_snapshot(resolved, workflow_snapshot(resolved["workflow"]), documents)


def _procedure_snapshot(
    r: Mapping[str, Any], workflow: Snapshot, document_types: list[Snapshot]
) -> Snapshot:
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
        "documents": [
            _document(d, t) for d, t in zip(r.get("documents") or [], document_types, strict=True)
        ],
        "steps": [_step(s) for s in r["steps"]],
        "workflow": workflow,
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


def _document(doc: Mapping[str, Any], document_type: Snapshot) -> Snapshot:
    return {
        "type": document_type,
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
    workflow = workflow_from_snapshot(snapshot["workflow"])
    types = [document_type_from_snapshot(d["type"]) for d in snapshot["documents"]]
    return _procedure_model(snapshot, version_of(snapshot), source, workflow, types)


def _procedure_model(
    s: Mapping[str, Any],
    version: str,
    source: Source | None,
    workflow: Workflow,
    document_types: list[DocumentType],
) -> Procedure:
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
        documents=tuple(
            _document_model(d, t) for d, t in zip(s["documents"], document_types, strict=True)
        ),
        steps=tuple(_step_model(st) for st in s["steps"]),
        workflow=workflow,
        acknowledgement=s["acknowledgement"],
        version=version,
        source=source,
        snapshot=s,
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


def _document_model(d: Mapping[str, Any], document_type: DocumentType) -> DocumentRequirement:
    return DocumentRequirement(
        type=document_type,
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
