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
from engine.model import Field, Procedure, Step
from renderer.forms import APPLICANT_STEP


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
        return "Non renseigné"
    labels = {c.value: c.label for c in f.choices}
    if f.type == "choice":
        return labels.get(str(value), str(value))
    if f.type == "multichoice":
        return ", ".join(labels.get(str(v), str(v)) for v in value)
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


def rows_of(step: Step, values: Mapping[str, Any], context: Mapping[str, Any]) -> list[Row]:
    out: list[Row] = []
    for f in step.fields:
        if not f.holds_value or not rules.field_visible(f, context):
            continue
        if f.type == "group":
            group_rows = []
            for row in values.get(f.id) or []:
                group_rows.append(
                    [
                        Row(s.label, show(s, row.get(s.id)))
                        for s in f.fields
                        if s.holds_value and rules.field_visible(s, context, row=row)
                    ]
                )
            out.append(Row(f.label, f"{len(group_rows)} ligne(s)", group_rows))
        else:
            out.append(Row(f.label, show(f, values.get(f.id))))
    return out


def sections(proc: Procedure, values: Mapping[str, Any]) -> list[Section]:
    """One section per visible procedure step."""
    return [
        Section(f"demande-{step.id}", step.title, rows_of(step, values, values))
        for step in rules.visible_steps(proc, dict(values))
    ]


def applicant_rows(applicant: Mapping[str, Any]) -> list[Row]:
    return rows_of(APPLICANT_STEP, applicant, applicant)


def document_rows(proc: Procedure, documents: list[dict[str, Any]]) -> list[Row]:
    """One row per document type with files: its label and the files' names."""
    labels = {d.type.id: d.type.label for d in proc.documents}
    out = []
    for doc in documents:
        names = [f["filename"] for f in doc.get("files", [])]
        if names:
            out.append(Row(labels.get(doc["type"], doc["type"]), ", ".join(names)))
    return out
