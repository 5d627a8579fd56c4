"""Load-time checks of a procedure's conditions (`visible_if` of fields, steps, documents).

Which fields a condition may read depends on where it sits: a field reads fields of earlier
steps and of its own step (never itself), a step only earlier steps, a document any field, and
a group's sub-field also its siblings of the same row. Conditions of fields of one step may not
form a cycle. Type problems come from ``engine.conditions.check``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine import conditions
from engine.errors import KeyPath
from engine.model import DISPLAY_TYPES

# (path, message, hint, column inside the condition or 0)
CondProblem = tuple[KeyPath, str, str, int]

NO_VALUE = DISPLAY_TYPES


@dataclass(frozen=True, slots=True)
class _Field:
    id: str
    step: int  # index of its step
    step_id: str
    raw: Mapping[str, Any]
    trusted: bool = True  # its schema check passed: its type and choices can be relied on

    @property
    def info(self) -> conditions.FieldInfo:
        return field_info(self.raw)


def _ftype(fld: Mapping[str, Any]) -> str:
    """The field's type; a malformed one (a schema problem) reads as text."""
    ftype = fld.get("type", "text")
    return ftype if isinstance(ftype, str) else "text"


def field_info(fld: Mapping[str, Any]) -> conditions.FieldInfo:
    """How a condition sees a field: its kind and, for choice fields, its values."""
    ftype = _ftype(fld)
    kind = conditions.FIELD_KINDS.get(ftype, "string")
    choices = None
    # Without `choices` (a problem reported on its own) any value may be meant: no check.
    if ftype in ("choice", "multichoice") and isinstance(fld.get("choices"), list):
        values = [c.get("value") if isinstance(c, dict) else c for c in fld["choices"]]
        choices = tuple(str(v) for v in values)
    return conditions.FieldInfo(kind, choices)


def _always(*path: str | int) -> bool:
    return True


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _entries(items: object) -> list[tuple[int, dict[str, Any]]]:
    """(index, item) of the mappings with a text `id` in a list (others are schema problems)."""
    if not isinstance(items, list):
        return []
    return [
        (index, entry)
        for index, entry in enumerate(items)
        if isinstance(entry, dict) and isinstance(entry.get("id"), str)
    ]


@dataclass(frozen=True, slots=True)
class _Where:
    """Where a condition sits: its step, the field it hides, the group of that field."""

    step: int
    own_id: str = ""
    group: str = ""


def check_conditions(
    proc: Mapping[str, Any], ok: Callable[..., bool] | None = None
) -> Iterator[CondProblem]:
    """Every problem of the conditions of one procedure.

    ``ok(*path)`` tells whether the schema found no problem at ``path`` (``None``: nowhere): a
    condition is checked only where it is well-formed, and its types only when the fields it
    reads are well-formed.
    """
    check = ok or _always
    steps = _list(proc.get("steps"))
    # (index, step, its fields) once: both passes below and the cycle check use them
    rows = [
        (s, st, _entries(st.get("fields"))) for s, st in enumerate(steps) if isinstance(st, dict)
    ]
    known: dict[str, _Field] = {}
    grouped: dict[str, str] = {}  # sub-field id -> id of its (first) group
    for s, step, fields in rows:
        step_id = str(step.get("id"))
        for f, fld in fields:
            ftype = _ftype(fld)
            if ftype in NO_VALUE:
                continue
            trusted = ok is None or ok("steps", s, "fields", f)
            known[fld["id"]] = _Field(fld["id"], s, step_id, fld, trusted)
            if ftype == "group":
                for _, sub in _entries(fld.get("fields")):
                    grouped.setdefault(sub["id"], fld["id"])
    for s, step, fields in rows:
        if step.get("visible_if") is not None and check("steps", s, "visible_if"):
            earlier = {k: v for k, v in known.items() if v.step < s}
            yield from _one(step["visible_if"], ("steps", s), earlier, known, grouped, _Where(s))
        for f, fld in fields:
            if fld.get("visible_if") is None and fld.get("type") != "group":
                continue  # the usual field: nothing to check, no scope to build
            path = ("steps", s, "fields", f)
            allowed = {k: v for k, v in known.items() if v.step <= s and k != fld["id"]}
            if check(*path, "visible_if"):
                where = _Where(s, fld["id"])
                yield from _one(fld.get("visible_if"), path, allowed, known, grouped, where)
            if fld.get("type") == "group":
                yield from _group(fld, path, allowed, known, grouped, s, check)
        yield from _cycles(fields, s, check)
    for d, doc in enumerate(_list(proc.get("documents"))):
        if isinstance(doc, dict) and check("documents", d, "visible_if"):
            where = _Where(len(steps))
            yield from _one(doc.get("visible_if"), ("documents", d), known, known, grouped, where)


def _group(
    group: Mapping[str, Any],
    path: KeyPath,
    allowed: dict[str, _Field],
    known: dict[str, _Field],
    grouped: dict[str, str],
    step: int,
    ok: Callable[..., bool],
) -> Iterator[CondProblem]:
    subs = [sub for _, sub in _entries(group.get("fields")) if _ftype(sub) not in NO_VALUE]
    step_id = known[group["id"]].step_id if group["id"] in known else ""
    for g, sub in _entries(group.get("fields")):
        sub_path = (*path, "fields", g)
        if sub.get("visible_if") is None or not ok(*sub_path, "visible_if"):
            continue
        siblings = {
            other["id"]: _Field(other["id"], step, step_id, other, ok(*path, "fields"))
            for other in subs
            if other["id"] != sub["id"]
        }
        scope = {**allowed, **siblings}
        every = {**known, **siblings}
        where = _Where(step, sub["id"], group["id"])
        yield from _one(sub["visible_if"], sub_path, scope, every, grouped, where)


def _one(
    source: object,
    path: KeyPath,
    allowed: Mapping[str, _Field],
    known: Mapping[str, _Field],
    grouped: Mapping[str, str],
    where: _Where,
) -> Iterator[CondProblem]:
    if not isinstance(source, str):
        return
    at = (*path, "visible_if")
    try:
        expr = conditions.parse(source)
    except conditions.ConditionError as exc:
        yield at, f"invalid condition: {exc.message}", exc.hint, exc.column
        return
    scope_problems = False
    names = conditions.references(expr)
    for name in sorted(names):
        if name in allowed:
            continue
        scope_problems = True
        yield at, *_scope_problem(name, known, grouped, where), 0
    # Only the fields it reads (unknown names were reported above), and only when their own
    # definition is well-formed: a broken field's type would give bogus type problems.
    if not scope_problems and all(allowed[name].trusted for name in names):
        infos = {name: allowed[name].info for name in names}
        for message in conditions.check(expr, infos):
            yield at, f"condition: {message}", "", 0


def _scope_problem(
    name: str, known: Mapping[str, _Field], grouped: Mapping[str, str], where: _Where
) -> tuple[str, str]:
    if name == where.own_id:
        return f"condition of field '{name}' refers to itself", "a field cannot hide itself"
    if name == where.group:
        message = f"a field of group '{name}' cannot refer to the group itself"
        return message, "it may read the other fields of its row and the fields outside the group"
    target = known.get(name)
    if target is None and name in grouped:
        message = (
            f"field '{name}' belongs to group '{grouped[name]}'; "
            "only fields of the same group row can refer to it"
        )
        return message, ""
    if target is None:
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"did you mean '{close[0]}'?" if close else ""
        return f"condition refers to unknown field '{name}'", hint
    if target.step >= where.step:
        message = f"condition refers to field '{name}' of a later step '{target.step_id}'"
        if target.step == where.step:
            message = f"condition refers to field '{name}' of its own step '{target.step_id}'"
        return message, "a condition may only read what the citizen already answered"
    return f"condition refers to field '{name}' that it cannot read", ""


def _cycles(
    fields: list[tuple[int, dict[str, Any]]], s: int, ok: Callable[..., bool]
) -> Iterator[CondProblem]:
    """Fields of one step whose conditions depend on each other in a loop."""
    conditional = [(f, fld) for f, fld in fields if isinstance(fld.get("visible_if"), str)]
    if len(conditional) < 2:
        return  # a loop needs two conditions (one reading itself is reported elsewhere)
    index = {fld["id"]: f for f, fld in fields}
    edges: dict[str, list[str]] = {}
    for f, fld in conditional:
        if not ok("steps", s, "fields", f):
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
