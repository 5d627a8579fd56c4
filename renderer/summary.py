"""What a citizen entered, as labelled rows: the récapitulatif, the email and tracking.

Values are shown with the procedure they were entered under (for tracking, the snapshot's
procedure), so a label changed since in the YAML does not change what a request shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine import rules
from engine.model import DISPLAY_TYPES, Field, Procedure, Step
from renderer.forms import APPLICANT_STEP, count

UNANSWERED = "Sans réponse"
# The rendez-vous, as the récapitulatif, the acknowledgement and tracking say it.
APPOINTMENT_WANTED = "Rendez-vous : souhaité — la mairie vous proposera un créneau"
APPOINTMENT_DECLINED = "Pas de rendez-vous"
APPOINTMENT_TO_FIX = "Rendez-vous : le créneau sera fixé avec le service"


def _answered(value: Any) -> bool:
    return not (value is None or value == "" or value == [])


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    value: str
    rows: list[list[Row]] = field(default_factory=list)  # a group's rows of sub-rows


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # wizard step key, for the "Modifier" link
    title: str
    rows: list[Row]


def _date(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).strftime("%d/%m/%Y")
    except ValueError:
        return value


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace(".", ",")


def show(f: Field, value: Any) -> str:
    """One value as the citizen reads it."""
    if value is None or value == "" or value == []:
        return UNANSWERED
    if f.type == "choice":
        return _label(f, str(value))
    if f.type == "multichoice":
        return ", ".join(_label(f, str(v)) for v in value)
    if f.type == "checkbox":
        return "Oui" if value else "Non"
    if f.type == "date":
        return _date(str(value))
    if f.type == "number":
        return _number(value)
    if f.type == "address" and isinstance(value, Mapping):
        city = f"{value.get('postal_code', '')} {value.get('city', '')}".strip()
        return ", ".join(p for p in (str(value.get("street", "")), city) if p)
    return str(value)


def _label(f: Field, value: str) -> str:
    return next((c.label for c in f.choices if c.value == value), value)


def appointment_line(appointment: Mapping[str, Any] | None) -> str:
    """The stored rendez-vous in one sentence; "" without one.

    ``wanted`` is only stored for an optional appointment; a required one (or a request
    stored before the question existed) is fixed by the service.
    """
    if not appointment:
        return ""
    wanted = appointment.get("wanted")
    if wanted is None:
        return APPOINTMENT_TO_FIX
    return APPOINTMENT_WANTED if wanted else APPOINTMENT_DECLINED


def labelled(label: str, value: str) -> str:
    """``label : value``, or ``label value`` after a question ("Comment ... ? Par courrier")."""
    return f"{label} {value}" if label.rstrip().endswith("?") else f"{label} : {value}"


def rows_of(step: Step, values: Mapping[str, Any]) -> list[Row]:
    """The rows of a step's visible fields; ``values`` already filtered by ``engine.rules``.

    Filtered values hold only visible fields (and group rows only visible sub-fields), so a
    field with a value is shown without evaluating its condition again; a field without one
    is shown when its condition holds, unless it is optional and unanswered (then it is left
    out rather than listed as "Sans réponse").
    """
    out: list[Row] = []
    for f in step.fields:
        if f.type in DISPLAY_TYPES:
            continue
        if f.id not in values and not rules.field_visible(f, values):
            continue
        if not f.required and not _answered(values.get(f.id)):
            continue
        if f.type == "group":
            group_rows = [_group_row(f, row, values) for row in values.get(f.id) or []]
            out.append(Row(f.label, count(len(group_rows), "ligne"), group_rows))
        else:
            out.append(Row(f.label, show(f, values.get(f.id))))
    return out


def _group_row(group: Field, row: Mapping[str, Any], values: Mapping[str, Any]) -> list[Row]:
    return [
        Row(s.label, show(s, row.get(s.id)))
        for s in group.fields
        if s.type not in DISPLAY_TYPES
        and (s.id in row or rules.field_visible(s, values, row=row))
        and (s.required or _answered(row.get(s.id)))
    ]


def sections(shown: rules.Visibility) -> list[Section]:
    """One section per visible procedure step (``shown``: ``engine.rules.visibility``)."""
    values = shown.values
    return [
        Section(f"demande-{step.id}", step.title, rows_of(step, values)) for step in shown.steps
    ]


def applicant_rows(applicant: Mapping[str, Any]) -> list[Row]:
    return rows_of(APPLICANT_STEP, applicant)


def document_rows(
    proc: Procedure, documents: list[dict[str, Any]], shown: rules.Visibility | None = None
) -> list[Row]:
    """One row per document type with files: its label and the files' names.

    With ``shown``, only the documents it shows (a document hidden since its files were
    attached is not submitted, so it is not listed either).
    """
    labels = {d.type.id: d.type.label for d in proc.documents}
    visible = {d.type.id for d in shown.documents} if shown is not None else None
    out = []
    for doc in documents:
        if visible is not None and doc["type"] not in visible:
            continue
        names = [f["filename"] for f in doc.get("files", [])]
        if names:
            out.append(Row(labels.get(doc["type"], doc["type"]), ", ".join(names)))
    return out
