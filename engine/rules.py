"""Runtime rules of a compiled procedure: opening window, quota periods, visibility, workflow.

Pure functions over ``engine.model`` objects; the renderer and storage call them per request.

Hidden values (the authoritative server-side rule): a field whose ``visible_if`` is false, or
that sits in a step whose ``visible_if`` is false, is neither required nor validated, and its
value is dropped when a step is saved and at submission. In conditions a hidden field reads as
empty. Since hiding a field can hide the fields whose conditions read it, ``visible_values``
repeats the filtering until nothing changes (a fixed point). Group rows follow the same rule
per row: a sub-field's condition reads its row's siblings and the top-level fields.
"""

from __future__ import annotations

import calendar
import datetime as dt
import heapq
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from engine.conditions import Expr, evaluate, parse, references
from engine.model import Actor, DocumentRequirement, Field, Procedure, Step, Transition, Workflow

PARIS = ZoneInfo("Europe/Paris")
WindowStatus = Literal["open", "not_yet", "closed"]
_DATE_RULE = re.compile(
    r"\s*today\s*(?:([+-])\s*(\d{1,6})\s*(day|days|month|months|year|years))?\s*\Z"
)


def _require_aware(now: dt.datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


# --- opening window and quota periods ----------------------------------------------------


def window_status(proc: Procedure, now: dt.datetime) -> WindowStatus:
    """Whether the procedure accepts requests at ``now`` (timezone-aware).

    Both bounds are inclusive: open from ``open.start`` to ``open.end`` (the compiler sets
    ``end`` to the last instant of the `until` day in Europe/Paris).
    """
    _require_aware(now)
    start, end = proc.open.start, proc.open.end
    if start is not None and now < start:
        return "not_yet"
    if end is not None and now > end:
        return "closed"
    return "open"


def quota_period_key(per: str, now: dt.datetime) -> str:
    """The quota counter's period containing ``now``, in Europe/Paris local time.

    "total" -> "total"; "year" -> "2026"; "month" -> "2026-11"; "week" -> ISO week
    "2026-W48" (its year is the ISO year: 2027-01-01 is in "2026-W53"); "day" -> "2026-11-29".
    """
    _require_aware(now)
    local = now.astimezone(PARIS)
    if per == "total":
        return "total"
    if per == "year":
        return f"{local.year:04d}"
    if per == "month":
        return f"{local.year:04d}-{local.month:02d}"
    if per == "week":
        iso = local.isocalendar()
        return f"{iso.year:04d}-W{iso.week:02d}"
    if per == "day":
        return local.date().isoformat()
    raise ValueError(f"unknown quota period '{per}' (expected total, year, month, week or day)")


# --- visibility --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Visibility:
    """What counts of a procedure's answers, from one evaluation of its conditions.

    ``values``: the values of visible fields of visible steps, in step order (group rows keep
    only their visible sub-fields); ``steps`` and ``documents``: those whose condition holds,
    hidden fields reading as empty.
    """

    values: dict[str, object]
    steps: tuple[Step, ...]
    documents: tuple[DocumentRequirement, ...]


def _shown(condition: str | None, values: Mapping[str, object]) -> bool:
    return condition is None or evaluate(parse(condition), values)


def field_visible(
    field: Field, values: Mapping[str, object], row: Mapping[str, object] | None = None
) -> bool:
    """Whether ``field``'s condition holds; ``row`` holds a group row's sibling values.

    Pass values already filtered by ``visible_values`` so that hidden fields read as empty.
    """
    if row is None:
        return _shown(field.visible_if, values)
    return _shown(field.visible_if, {**values, **row})


def visibility(proc: Procedure, values: Mapping[str, object]) -> Visibility:
    """Visible values, steps and documents of ``values`` in one evaluation.

    The fields are visited once, in an order where every field comes after the fields its
    own and its step's conditions read (computed once per procedure): each condition then
    reads final values, which is the fixed point of the module docstring in a single pass.
    Should the conditions form a cycle (the loader rejects them), the passes are repeated
    until nothing changes, with a bounded count.
    """
    plan = _plan(proc)
    shown = _fixed_point(proc, values) if plan.order is None else _single_pass(plan, values)
    return Visibility(
        shown,
        tuple(step for step in proc.steps if _shown(step.visible_if, shown)),
        tuple(doc for doc in proc.documents if _shown(doc.visible_if, shown)),
    )


def visible_values(proc: Procedure, values: Mapping[str, object]) -> dict[str, object]:
    """The values that count: those of visible fields of visible steps, in step order.

    Keys that are not value-holding fields of the procedure are dropped too (see
    ``visibility``, which also gives the visible steps and documents).
    """
    return visibility(proc, values).values


def visible_steps(proc: Procedure, values: Mapping[str, object]) -> tuple[Step, ...]:
    """The steps whose condition holds, hidden fields reading as empty."""
    return visibility(proc, values).steps


def visible_documents(
    proc: Procedure, values: Mapping[str, object]
) -> tuple[DocumentRequirement, ...]:
    """The documents asked for, given the answers (hidden fields reading as empty)."""
    return visibility(proc, values).documents


def step_dependencies(proc: Procedure, step: Step) -> frozenset[str]:
    """The value-holding fields of other steps whose values can change what ``step`` shows.

    The closure of the references of the step's condition and of its fields' (and group
    sub-fields') conditions, through the conditions of each field reached and of its step:
    a field two hops away can hide a field that the step reads. What a step's validation
    depends on, besides its own values and the day, is the values of these fields.
    """
    found = _plan(proc).dependencies.get(step.id)
    return found if found is not None else frozenset()


# --- the per-procedure plan ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Node:
    field: Field
    step: Step
    condition: Expr | None
    step_condition: Expr | None


@dataclass(frozen=True, slots=True)
class _Plan:
    order: tuple[_Node, ...] | None  # dependencies first; None when the conditions loop
    field_ids: tuple[str, ...]  # value-holding fields in step order
    dependencies: dict[str, frozenset[str]]  # step id -> fields of other steps it reads


_PLANS: dict[int, tuple[Procedure, _Plan]] = {}
_PLAN_LIMIT = 4096


def _plan(proc: Procedure) -> _Plan:
    """The plan of a compiled procedure, built on first use (keyed by identity: hashing a
    frozen procedure would walk all of it)."""
    found = _PLANS.get(id(proc))
    if found is not None and found[0] is proc:
        return found[1]
    plan = _build_plan(proc)
    if len(_PLANS) >= _PLAN_LIMIT:
        _PLANS.clear()
    _PLANS[id(proc)] = (proc, plan)
    return plan


def _condition(source: str | None) -> Expr | None:
    return None if source is None else parse(source)


def _reads(field: Field, step: Step) -> frozenset[str]:
    """The names whose values decide whether ``field`` is shown and which rows it keeps."""
    sources = (step.visible_if, field.visible_if, *(sub.visible_if for sub in field.fields))
    return frozenset().union(*(references(parse(s)) for s in sources if s is not None))


def _build_plan(proc: Procedure) -> _Plan:
    nodes = {
        f.id: _Node(f, step, _condition(f.visible_if), _condition(step.visible_if))
        for step in proc.steps
        for f in step.fields
        if f.holds_value
    }
    reads = {fid: _reads(node.field, node.step) & nodes.keys() for fid, node in nodes.items()}
    return _Plan(
        order=_topological(nodes, reads),
        field_ids=tuple(nodes),
        dependencies={step.id: _closure(step, reads) for step in proc.steps},
    )


def _topological(
    nodes: dict[str, _Node], reads: dict[str, frozenset[str]]
) -> tuple[_Node, ...] | None:
    """``nodes`` with every node after the nodes it reads, else in step order; None when
    some nodes read each other in a loop."""
    ids = list(nodes)
    index = {fid: n for n, fid in enumerate(ids)}
    waiting = {fid: set(reads[fid]) for fid in ids}
    readers: dict[str, list[str]] = {fid: [] for fid in ids}
    for fid, deps in waiting.items():
        for dep in deps:
            readers[dep].append(fid)
    ready = [index[fid] for fid, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    order: list[_Node] = []
    while ready:
        fid = ids[heapq.heappop(ready)]
        order.append(nodes[fid])
        for reader in readers[fid]:
            waiting[reader].discard(fid)
            if not waiting[reader]:
                heapq.heappush(ready, index[reader])
    return tuple(order) if len(order) == len(ids) else None


def _closure(step: Step, reads: dict[str, frozenset[str]]) -> frozenset[str]:
    own = {f.id for f in step.fields}
    pending = set().union(*(_reads(f, step) for f in step.fields))
    if step.visible_if is not None:
        pending |= references(parse(step.visible_if))
    seen: set[str] = set()
    while pending:
        fid = pending.pop()
        if fid in reads and fid not in seen:
            seen.add(fid)
            pending |= reads[fid] - seen
    return frozenset(seen - own)


def _single_pass(plan: _Plan, raw: Mapping[str, object]) -> dict[str, object]:
    assert plan.order is not None
    kept: dict[str, object] = {}
    step_shown: dict[str, bool] = {}
    for node in plan.order:
        fid = node.field.id
        if fid not in raw:
            continue
        if node.step_condition is not None:
            shown = step_shown.get(node.step.id)
            if shown is None:
                shown = step_shown[node.step.id] = evaluate(node.step_condition, kept)
            if not shown:
                continue
        if node.condition is not None and not evaluate(node.condition, kept):
            continue
        value = raw[fid]
        kept[fid] = _visible_rows(node.field, value, kept) if node.field.type == "group" else value
    return {fid: kept[fid] for fid in plan.field_ids if fid in kept}


def _fixed_point(proc: Procedure, values: Mapping[str, object]) -> dict[str, object]:
    current = _one_pass(proc, values, values)
    for _ in range(_field_count(proc) + 1):
        following = _one_pass(proc, values, current)
        if following == current:
            break
        current = following
    return current


def _field_count(proc: Procedure) -> int:
    return sum(len(step.fields) for step in proc.steps)


def _one_pass(
    proc: Procedure, raw: Mapping[str, object], current: Mapping[str, object]
) -> dict[str, object]:
    kept: dict[str, object] = {}
    for step in proc.steps:
        if not _shown(step.visible_if, current):
            continue
        for field in step.fields:
            if not field.holds_value or field.id not in raw:
                continue
            if not _shown(field.visible_if, current):
                continue
            value = raw[field.id]
            kept[field.id] = (
                _visible_rows(field, value, current) if field.type == "group" else value
            )
    return kept


def _visible_rows(group: Field, rows: object, top: Mapping[str, object]) -> object:
    if not isinstance(rows, list):
        return rows
    return [_visible_row(group, row, top) for row in rows if isinstance(row, Mapping)]


def _visible_row(
    group: Field, row: Mapping[str, object], top: Mapping[str, object]
) -> dict[str, object]:
    subs = [f for f in group.fields if f.holds_value and f.id in row]
    current: dict[str, object] = {f.id: row[f.id] for f in subs}
    for _ in range(len(subs) + 1):
        following = {f.id: row[f.id] for f in subs if field_visible(f, top, current)}
        if following == current:
            break
        current = following
    return current


# --- workflow ----------------------------------------------------------------------------


def can_cancel(workflow: Workflow, state_id: str) -> bool:
    """Whether a citizen may cancel a request in this state (False for an unknown state)."""
    state = next((s for s in workflow.states if s.id == state_id), None)
    if state is None or state.final or workflow.cancel_to is None:
        return False
    return state.citizen_can_cancel


def allowed_transitions(workflow: Workflow, state_id: str, actor: Actor) -> tuple[Transition, ...]:
    """The transitions ``actor`` may trigger from ``state_id``, in definition order."""
    return tuple(t for t in workflow.transitions if state_id in t.sources and actor in t.by)


# --- date bounds -------------------------------------------------------------------------


def resolve_date_bound(rule: str, today: dt.date) -> dt.date:
    """Turn a date bound into a date: "2026-01-01", "today", "today - 18 years",
    "today + 30 days", "today - 6 months". Months and years clamp the day (29 Feb -> 28 Feb).

    Raises ValueError for any other text or a date out of range.
    """
    match = _DATE_RULE.match(rule)
    if match is None:
        try:
            return dt.date.fromisoformat(rule.strip())
        except ValueError:
            raise ValueError(
                f"invalid date bound '{rule}' (expected YYYY-MM-DD, 'today' "
                "or 'today - N days|months|years')"
            ) from None
    sign, amount, unit = match.groups()
    if sign is None:
        return today
    count = int(amount) * (1 if sign == "+" else -1)
    try:
        if unit.startswith("day"):
            return today + dt.timedelta(days=count)
        months = count * 12 if unit.startswith("year") else count
        return _add_months(today, months)
    except OverflowError:
        raise ValueError(f"date bound '{rule}' is out of range") from None


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise OverflowError
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))
