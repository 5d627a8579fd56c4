"""Load-time checks of a procedure's conditions (`visible_if` of fields, steps, documents).

Which fields a condition may read depends on where it sits: a field reads fields of earlier
steps and of its own step (never itself), a step only earlier steps, a document any field, and
a group's sub-field also its siblings of the same row. Conditions of fields of one step may not
form a cycle. Type problems come from ``engine.conditions.check``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine import conditions
from engine.errors import KeyPath

# (path, message, hint, column inside the condition or 0)
CondProblem = tuple[KeyPath, str, str, int]

_KINDS = {
    "number": "number",
    "date": "date",
    "checkbox": "boolean",
    "multichoice": "list",
    "address": "address",
    "group": "group",
}
NO_VALUE = frozenset({"heading", "paragraph"})


@dataclass(frozen=True, slots=True)
class _Field:
    id: str
    step: int  # index of its step
    step_id: str
    raw: Mapping[str, Any]

    @property
    def info(self) -> conditions.FieldInfo:
        return field_info(self.raw)


def field_info(fld: Mapping[str, Any]) -> conditions.FieldInfo:
    """How a condition sees a field: its kind and, for choice fields, its values."""
    ftype = fld.get("type", "text")
    kind = _KINDS.get(ftype, "string")
    choices = None
    # Without `choices` (a problem reported on its own) any value may be meant: no check.
    if ftype in ("choice", "multichoice") and isinstance(fld.get("choices"), list):
        values = [c.get("value") if isinstance(c, dict) else c for c in fld["choices"]]
        choices = tuple(str(v) for v in values)
    return conditions.FieldInfo(kind, choices)


def check_conditions(proc: Mapping[str, Any]) -> Iterator[CondProblem]:
    """Every problem of the conditions of one (schema-valid) procedure."""
    steps: list[Mapping[str, Any]] = proc.get("steps") or []
    known = {
        f["id"]: _Field(f["id"], s, str(step.get("id")), f)
        for s, step in enumerate(steps)
        for f in step.get("fields") or []
        if f.get("type") not in NO_VALUE
    }
    for s, step in enumerate(steps):
        if step.get("visible_if") is not None:
            earlier = {k: v for k, v in known.items() if v.step < s}
            yield from _one(step["visible_if"], ("steps", s), earlier, known, s, "")
        for f, fld in enumerate(step.get("fields") or []):
            if fld.get("visible_if") is None and fld.get("type") != "group":
                continue  # the usual field: nothing to check, no scope to build
            path = ("steps", s, "fields", f)
            allowed = {k: v for k, v in known.items() if v.step <= s and k != fld.get("id")}
            yield from _one(fld.get("visible_if"), path, allowed, known, s, fld.get("id", ""))
            yield from _group(fld, path, allowed, known, s)
        yield from _cycles(step, s)
    for d, doc in enumerate(proc.get("documents") or []):
        yield from _one(doc.get("visible_if"), ("documents", d), known, known, len(steps), "")


def _group(
    group: Mapping[str, Any],
    path: KeyPath,
    allowed: dict[str, _Field],
    known: dict[str, _Field],
    step: int,
) -> Iterator[CondProblem]:
    subs = [sub for sub in group.get("fields") or [] if sub.get("type") not in NO_VALUE]
    step_id = known[group["id"]].step_id if group.get("id") in known else ""
    for g, sub in enumerate(group.get("fields") or []):
        siblings = {
            s["id"]: _Field(s["id"], step, step_id, s) for s in subs if s.get("id") != sub.get("id")
        }
        scope = {**allowed, **siblings}
        every = {**known, **siblings}
        yield from _one(sub.get("visible_if"), (*path, "fields", g), scope, every, step, sub["id"])


def _one(
    source: object,
    path: KeyPath,
    allowed: Mapping[str, _Field],
    known: Mapping[str, _Field],
    step: int,
    own_id: str,
) -> Iterator[CondProblem]:
    if not isinstance(source, str):
        return
    where = (*path, "visible_if")
    try:
        expr = conditions.parse(source)
    except conditions.ConditionError as exc:
        yield where, f"invalid condition: {exc.message}", "", exc.column
        return
    scope_problems = False
    names = conditions.references(expr)
    for name in sorted(names):
        if name in allowed:
            continue
        scope_problems = True
        yield where, *_scope_problem(name, known, step, own_id), 0
    if not scope_problems:
        # Only the fields it reads: unknown names were reported above.
        infos = {name: allowed[name].info for name in names}
        for message in conditions.check(expr, infos):
            yield where, f"condition: {message}", "", 0


def _scope_problem(
    name: str, known: Mapping[str, _Field], step: int, own_id: str
) -> tuple[str, str]:
    if name == own_id:
        return f"condition of field '{name}' refers to itself", "a field cannot hide itself"
    target = known.get(name)
    if target is None:
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"did you mean '{close[0]}'?" if close else ""
        return f"condition refers to unknown field '{name}'", hint
    if target.step >= step:
        message = f"condition refers to field '{name}' of a later step '{target.step_id}'"
        if target.step == step:
            message = f"condition refers to field '{name}' of its own step '{target.step_id}'"
        return message, "a condition may only read what the citizen already answered"
    return f"condition refers to field '{name}' that it cannot read", ""


def _cycles(step: Mapping[str, Any], s: int) -> Iterator[CondProblem]:
    """Fields of one step whose conditions depend on each other in a loop."""
    fields = [f for f in step.get("fields") or [] if isinstance(f.get("id"), str)]
    index = {f["id"]: i for i, f in enumerate(fields)}
    edges: dict[str, list[str]] = {}
    for fld in fields:
        if not isinstance(fld.get("visible_if"), str):
            continue
        try:
            refs = conditions.references(conditions.parse(fld["visible_if"]))
        except conditions.ConditionError:
            continue
        edges[fld["id"]] = sorted(r for r in refs if r in index and r != fld["id"])
    reported: set[frozenset[str]] = set()
    for start in edges:
        cycle = _find_cycle(start, edges)
        if cycle and frozenset(cycle) not in reported:
            reported.add(frozenset(cycle))
            first = min(cycle, key=index.__getitem__)
            at = cycle.index(first)
            loop = [*cycle[at:], *cycle[:at], first]
            path = ("steps", s, "fields", index[first], "visible_if")
            message = "conditions form a cycle: " + " -> ".join(loop)
            yield path, message, "a field cannot depend on a field that depends on it", 0


def _find_cycle(start: str, edges: Mapping[str, list[str]]) -> list[str]:
    trail: list[str] = []

    def visit(node: str) -> list[str]:
        if node in trail:
            return trail[trail.index(node) :]
        trail.append(node)
        for nxt in edges.get(node, []):
            found = visit(nxt)
            if found:
                return found
        trail.pop()
        return []

    return visit(start)
