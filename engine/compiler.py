"""Compiling a layered, checked pack into the frozen model of ``engine.model``.

The input is trusted: the schema and the cross-checks passed. Procedures are compiled through
their snapshot (``engine.snapshot``), so a procedure compiled now and one rebuilt later from a
stored snapshot are the same object; the workflows and document types they embed are built
once per pack (``PackParts``) and shared. Every item keeps its ``Source``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from engine.layers import Item, Layered
from engine.model import (
    Address,
    Agenda,
    Colours,
    Contact,
    Limits,
    NewsItem,
    OpeningHours,
    Pack,
    Portal,
    Procedure,
    Service,
    Source,
    Theme,
)
from engine.snapshot import (
    PackParts,
    compile_shared,
    procedure_from_snapshot,
    procedure_snapshot,
)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def compile_pack(layered: Layered) -> Pack:
    """Build the ``Pack`` of a layered pack that has no problems."""
    parts = PackParts(
        {i.id: i.data for i in layered.of("workflow").values()},
        {i.id: i.data for i in layered.of("document type").values()},
    )
    document_types = {
        i.id: dataclasses.replace(parts.document_types[i.id].model, source=i.source)
        for i in _sorted(layered, "document type")
    }
    workflows = {
        i.id: dataclasses.replace(parts.workflows[i.id].model, source=i.source)
        for i in _sorted(layered, "workflow")
    }
    procedures = {
        i.id: compile_shared({**i.data, "id": i.id}, parts, i.source)
        for i in _sorted(layered, "procedure")
    }
    return Pack(
        portal=_portal(layered),
        document_types=document_types,
        agendas={i.id: _agenda(i) for i in _sorted(layered, "agenda")},
        services={i.id: _service(i) for i in _sorted(layered, "service")},
        workflows=workflows,
        procedures=procedures,
        news={i.id: _news(i) for i in _sorted(layered, "news")},
        layers=layered.layers,
    )


def _sorted(layered: Layered, kind: str) -> list[Item]:
    return [layered.of(kind)[k] for k in sorted(layered.of(kind))]


def resolve_procedure(item: Item, layered: Layered) -> dict[str, Any]:
    """The procedure's mapping with its id set and its document types and workflow embedded."""
    data = dict(item.data)
    data["id"] = item.id
    doc_types = layered.of("document type")
    data["documents"] = [
        {**doc, "type": {**doc_types[doc["type"]].data, "id": doc["type"]}}
        for doc in data.get("documents") or []
    ]
    workflow_id = data.get("workflow", "default")
    data["workflow"] = {**layered.of("workflow")[workflow_id].data, "id": workflow_id}
    return data


def compile_procedure(item: Item, layered: Layered) -> Procedure:
    """One procedure, through its snapshot, with its source."""
    snapshot = procedure_snapshot(resolve_procedure(item, layered))
    return procedure_from_snapshot(snapshot, item.source)


def _portal(layered: Layered) -> Portal:
    data: Mapping[str, Any] = layered.portal or {}
    entry = layered.portal_entry
    limits = dict(data.get("limits") or {})
    if "accepted_types" in limits:
        limits["accepted_types"] = tuple(limits["accepted_types"])
    themes = sorted(layered.of("theme").values(), key=lambda t: (t.data.get("order", 0), t.id))
    return Portal(
        name=data.get("name", ""),
        address=Address(**(data.get("address") or {})),
        contact=Contact(**(data.get("contact") or {})),
        logo=data.get("logo", ""),
        colours=Colours(**(data.get("colours") or {})),
        welcome=data.get("welcome", ""),
        themes=tuple(_theme(t) for t in themes),
        featured=tuple(data.get("featured") or ()),
        limits=Limits(**limits),
        source=None if entry is None else Source(entry.display, entry.layer),
    )


def _theme(item: Item) -> Theme:
    d = item.data
    return Theme(item.id, d["label"], d.get("icon", ""), d.get("order", 0), item.source)


def _service(item: Item) -> Service:
    return Service(item.id, item.data["label"], item.data.get("email", ""), item.source)


def _agenda(item: Item) -> Agenda:
    d = item.data
    hours = [
        OpeningHours(WEEKDAYS.index(day), _time(r.split("-")[0]), _time(r.split("-")[1]))
        for day, ranges in (d.get("opening_hours") or {}).items()
        for r in ranges or []
    ]
    return Agenda(
        id=item.id,
        label=d["label"],
        place=d.get("place", ""),
        slot_minutes=d.get("slot_minutes", 15),
        capacity=d.get("capacity", 1),
        opening_hours=tuple(sorted(hours, key=lambda h: (h.weekday, h.start))),
        closed_dates=tuple(sorted(dt.date.fromisoformat(x) for x in d.get("closed_dates") or [])),
        book_ahead_days=d.get("book_ahead_days", 60),
        min_notice_hours=d.get("min_notice_hours", 24),
        source=item.source,
    )


def _time(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def _news(item: Item) -> NewsItem:
    d = item.data
    publish = d.get("publish") or {}
    return NewsItem(
        id=item.id,
        kind=d.get("kind", "news"),
        title=d["title"],
        category=d["category"],
        body=d["body"],
        date=_date(d.get("date")),
        public=d.get("public", True),
        publish_from=_date(publish.get("from")),
        publish_until=_date(publish.get("until")),
        summary=d.get("summary", ""),
        source=item.source,
    )


def _date(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)
