"""The wizard's draft and step sequence: which steps a procedure has, which are done.

Draft data (what ``storage.drafts`` keeps, JSON)::

    {"applicant": {...}, "values": {field_id: value}, "appointment": {...} | None,
     "documents": [{"type": id, "files": [{"sha256", "filename", "content_type", "size"}]}],
     "done": [step keys], "stamps": {step key: validation stamp}}

(``stamps``: see ``renderer.stamps``; drafts saved before it existed have none.)

Step keys, in order: ``demarche``, ``rendez-vous`` (appointment only), ``informations``,
``demande-<step id>`` (visible procedure steps), ``pieces`` (visible documents only),
``recapitulatif``. The sequence depends on the values (conditional steps and documents), so
it is recomputed on every request, from one ``engine.rules.visibility`` of the values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from engine import rules
from engine.model import Procedure, Step

INTRO = "demarche"
APPOINTMENT = "rendez-vous"
APPLICANT = "informations"
DOCUMENTS = "pieces"
SUMMARY = "recapitulatif"
REQUEST_PREFIX = "demande-"

VERSION_CHANGED = (
    "La démarche a été modifiée depuis que vous l'avez commencée. Les réponses qui "
    "s'appliquent toujours ont été conservées : vérifiez-les avant de valider."
)

DRAFT_CHANGED = (
    "Votre demande a changé depuis l'affichage de la page précédente (dans une autre "
    "fenêtre, ou parce qu'elle a déjà été envoyée : vous avez alors reçu un courriel avec le "
    "lien de suivi). Vérifiez ce qui est affiché avant de continuer."
)


@dataclass(frozen=True, slots=True)
class WizardStep:
    key: str
    label: str  # what the progress indicator shows
    title: str  # the page's heading
    step: Step | None = None  # the procedure step of a "demande-..." key


def empty_draft() -> dict[str, Any]:
    return {
        "applicant": {},
        "values": {},
        "appointment": None,
        "documents": [],
        "done": [],
        "stamps": {},
    }


def has_appointment(proc: Procedure) -> bool:
    return proc.appointment.mode != "none"


# (procedure id, version, shown step ids, documents asked) -> its steps; bounded.
_SEQUENCES: dict[tuple[str, str, tuple[str, ...], bool], tuple[WizardStep, ...]] = {}
SEQUENCES_LIMIT = 4096


def step_sequence(proc: Procedure, shown: rules.Visibility) -> list[WizardStep]:
    """The wizard's steps for the draft values whose visibility is ``shown``, in order.

    Built once per procedure version and set of shown steps (every page asks for it).
    """
    key = (proc.id, proc.version, tuple(step.id for step in shown.steps), bool(shown.documents))
    found = _SEQUENCES.get(key)
    if found is None:
        if len(_SEQUENCES) >= SEQUENCES_LIMIT:
            _SEQUENCES.clear()
        found = _SEQUENCES[key] = tuple(_build_sequence(proc, shown))
    return list(found)


def _build_sequence(proc: Procedure, shown: rules.Visibility) -> list[WizardStep]:
    seq = [WizardStep(INTRO, "La démarche", proc.title)]
    if has_appointment(proc):
        seq.append(WizardStep(APPOINTMENT, "Mon rendez-vous", "Mon rendez-vous"))
    seq.append(WizardStep(APPLICANT, "Mes informations", "Mes informations"))
    for step in shown.steps:
        title = f"Ma demande — {step.title}"
        seq.append(WizardStep(REQUEST_PREFIX + step.id, "Ma demande", title, step))
    if shown.documents:
        seq.append(WizardStep(DOCUMENTS, "Pièces justificatives", "Pièces justificatives"))
    seq.append(WizardStep(SUMMARY, "Le récapitulatif", "Le récapitulatif"))
    return seq


def progress_labels(seq: list[WizardStep], current: str) -> list[tuple[str, str, bool]]:
    """(label, key of its first step, is current) for the progress indicator.

    The procedure's own steps share one "Ma demande" entry, as in the portal citizens know.
    """
    out: list[tuple[str, str, bool]] = []
    for ws in seq:
        is_current = ws.key == current
        if out and out[-1][0] == ws.label:
            if is_current:
                out[-1] = (out[-1][0], out[-1][1], True)
            continue
        out.append((ws.label, ws.key, is_current))
    return out


def find(seq: list[WizardStep], key: str) -> int | None:
    for index, ws in enumerate(seq):
        if ws.key == key:
            return index
    return None


def first_incomplete(seq: list[WizardStep], done: list[str], before: int) -> str | None:
    """The first step before index ``before`` not marked done, if any (tampered order)."""
    finished = set(done)
    for ws in seq[:before]:
        if ws.key not in finished:
            return ws.key
    return None


def next_key(seq: list[WizardStep], key: str) -> str:
    index = find(seq, key)
    if index is None or index + 1 >= len(seq):
        return SUMMARY
    return seq[index + 1].key


def mark_done(draft: dict[str, Any], key: str) -> None:
    if key not in draft["done"]:
        draft["done"].append(key)


def is_expired(updated_at: dt.datetime, now: dt.datetime, ttl_hours: int) -> bool:
    if updated_at.tzinfo is None:
        updated_at = updated_at.replace(tzinfo=dt.UTC)
    return now - updated_at > dt.timedelta(hours=ttl_hours)


def migrate_draft(draft: dict[str, Any], proc: Procedure) -> bool:
    """Keep the values whose fields still exist in the new version; True when any changed.

    The steps are marked not done again (their fields may have changed), except the
    introduction and the applicant's information, which do not depend on the version; every
    validation stamp is dropped (each names the version it was validated under).
    """
    fields = proc.fields_by_id()
    values = draft.get("values") or {}
    kept = {k: v for k, v in values.items() if k in fields}
    doc_types = {d.type.id for d in proc.documents}
    draft["values"] = kept
    draft["documents"] = [d for d in draft.get("documents", []) if d.get("type") in doc_types]
    draft["done"] = [k for k in draft.get("done", []) if k in (INTRO, APPLICANT)]
    draft["stamps"] = {}
    if not has_appointment(proc):
        draft["appointment"] = None
    return True


def pieces_of(draft: dict[str, Any], type_id: str) -> list[dict[str, Any]]:
    """The files of one document type in the draft (created empty when missing)."""
    for doc in draft["documents"]:
        if doc["type"] == type_id:
            files: list[dict[str, Any]] = doc["files"]
            return files
    doc = {"type": type_id, "files": []}
    draft["documents"].append(doc)
    return doc["files"]  # type: ignore[return-value]
