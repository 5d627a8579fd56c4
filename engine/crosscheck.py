"""Pack-wide checks that a JSON Schema cannot express (or that it would express slowly).

They run on the parts of the layered items whose own schema check passed: unique ids,
per-type field rules (keys that apply, keys required, the form of `min`/`max`, worded as the
schema words its own problems), bounds, patterns, quotas, opening windows and appointments.
References are checked by ``engine.references``, conditions by ``engine.condcheck``, the portal
by ``engine.portalcheck``, workflows by ``engine.workflowcheck``. Each finding names the file
and the key path; the pipeline turns the path into a line by re-reading the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from engine.condcheck import check_conditions
from engine.dates import bound_problem
from engine.errors import KeyPath, Problem
from engine.layers import Item, Layered
from engine.portalcheck import check_portal
from engine.references import default_workflow, procedure_references
from engine.schema import DATE_BOUND_PATTERN
from engine.schema_messages import wrong_form, wrong_type
from engine.workflowcheck import check_workflow

COMMON_KEYS = frozenset({"id", "type", "label", "help", "required", "visible_if"})
TYPE_KEYS: dict[str, frozenset[str]] = {
    "text": frozenset({"min_length", "max_length", "pattern", "pattern_message"}),
    "textarea": frozenset({"min_length", "max_length"}),
    "email": frozenset(),
    "phone": frozenset(),
    "postal_code": frozenset(),
    "address": frozenset(),
    "number": frozenset({"min", "max", "integer"}),
    "date": frozenset({"min", "max"}),
    "choice": frozenset({"choices", "display"}),
    "multichoice": frozenset({"choices", "min", "max"}),
    "checkbox": frozenset(),
    "group": frozenset({"fields", "min", "max", "add_label"}),
}
DISPLAY_KEYS = frozenset({"id", "type", "text", "visible_if"})
# Keys a field of a type must have (any type not listed: `label`).
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "heading": ("text",),
    "paragraph": ("text",),
    "choice": ("label", "choices"),
    "multichoice": ("label", "choices"),
    "group": ("label", "fields"),
}
# Types whose `min`/`max` apply: a date bound for a date, a number for the others.
BOUNDED_TYPES = frozenset({"number", "date", "multichoice", "group"})
_DATE_BOUND = re.compile(DATE_BOUND_PATTERN)
_RELATIVE = re.compile(r"^today(?: ([+-]) (\d+) (day|month|year)s?)?$")
_DAYS = {"day": 1, "month": 30, "year": 365}
# Largest bound of a number field: beyond it, floats no longer hold every whole number.
MAX_NUMBER = 10**15
MAX_GROUP_ROWS = 100


class Finding(NamedTuple):
    """A problem, and for a condition the 1-based column of the error inside the condition."""

    problem: Problem
    value_column: int = 0


def check_pack(layered: Layered) -> list[Finding]:
    """Every cross-check problem of the layered pack.

    Items whose schema check failed are checked too, part by part: a check runs on a part
    (a reference, a field, a condition) only when the schema found no problem at it.
    """
    out: list[Finding] = [Finding(p) for p in check_portal(layered)]
    procedures = list(layered.of("procedure").values())
    for item in procedures:
        out += _procedure(item, layered)
    out += (Finding(p) for p in default_workflow(layered, procedures))
    for item in layered.of("workflow").values():
        out += (Finding(p) for p in check_workflow(item))
    for item in layered.of("agenda").values():
        out += (Finding(p) for p in _agenda(item))
    for item in layered.of("news").values():
        out += (Finding(p) for p in _window(item, "publish"))
    return out


def problem(item: Item, path: KeyPath, message: str, hint: str = "") -> Problem:
    """A problem about ``path`` inside ``item`` (line and column are filled later)."""
    return Problem(item.entry.display, 0, 0, message, (*item.base, *path), hint)


# --- procedures --------------------------------------------------------------------------------


def _procedure(item: Item, layered: Layered) -> list[Finding]:
    data = item.data
    problems = [
        *procedure_references(item, layered),
        *_unique_ids(item),
        *_window(item, "open"),
        *_quota(item),
        *_appointment(item),
    ]
    for path, fld in _fields(data):
        if item.valid or item.ok(*path):
            problems += _field(item, path, fld)
    findings = [Finding(p) for p in problems]
    for path, message, hint, column in check_conditions(data, item.ok if item.bad else None):
        findings.append(Finding(problem(item, path, message, hint), column))
    return findings


def _fields(data: dict[str, Any]) -> Iterator[tuple[KeyPath, dict[str, Any]]]:
    """(path, field) of every top-level field that is a mapping, whatever the schema said."""
    steps = data.get("steps")
    for s, step in enumerate(steps if isinstance(steps, list) else []):
        fields = step.get("fields") if isinstance(step, dict) else None
        for f, fld in enumerate(fields if isinstance(fields, list) else []):
            if isinstance(fld, dict):
                yield ("steps", s, "fields", f), fld


def _unique_ids(item: Item) -> Iterator[Problem]:
    steps: dict[object, int] = {}
    fields: dict[object, object] = {}
    all_steps = item.data.get("steps")
    for s, step in enumerate(all_steps if isinstance(all_steps, list) else []):
        if not isinstance(step, dict) or not isinstance(step.get("id"), str):
            continue
        if step["id"] in steps and item.ok("steps", s, "id"):
            yield problem(item, ("steps", s, "id"), f"step id '{step['id']}' is used twice")
        steps.setdefault(step["id"], s)
    for path, fld in _fields(item.data):
        if not isinstance(fld.get("id"), str):
            continue
        step_id = item.data["steps"][path[1]].get("id")
        if fld["id"] in fields and item.ok(*path, "id"):
            message = f"field id '{fld['id']}' is already used in step '{fields[fld['id']]}'"
            hint = "field ids must be unique in a procedure"
            yield problem(item, (*path, "id"), message, hint)
        fields.setdefault(fld["id"], step_id)
        sub_ids: set[object] = set()
        subs = fld.get("fields")
        for g, sub in enumerate(subs if isinstance(subs, list) else []):
            if not isinstance(sub, dict) or not isinstance(sub.get("id"), str):
                continue
            if sub["id"] in sub_ids and item.ok(*path, "fields", g, "id"):
                message = f"field id '{sub['id']}' is used twice in group '{fld['id']}'"
                yield problem(item, (*path, "fields", g, "id"), message)
            sub_ids.add(sub["id"])


_WINDOW_MESSAGES = {
    "open": "the opening date must be before the closing date",
    "publish": "the publication start date must be before its end date",
}


def _window(item: Item, key: str) -> Iterator[Problem]:
    window = item.data.get(key)
    if not isinstance(window, dict) or not item.ok(key):
        return
    start, end = window.get("from"), window.get("until")
    if isinstance(start, str) and isinstance(end, str) and start > end:
        # Same order of month and day: the years are what is wrong (2026-09-01 to 2025-06-30).
        hint = "check the years" if start[4:] <= end[4:] else "swap the dates"
        hint += f": from {start}, until {end}"
        yield problem(item, (key, "until"), _WINDOW_MESSAGES[key], hint)


def _quota(item: Item) -> Iterator[Problem]:
    quota = item.data.get("quota")
    if not isinstance(quota, dict) or not quota or not item.ok("quota"):
        return
    if isinstance(quota.get("max"), int) and quota["max"] < 1:
        yield problem(item, ("quota", "max"), "quota max must be at least 1")
    access = item.data.get("access")
    access = access if isinstance(access, dict) else {}
    if quota.get("scope") == "account" and not access.get("requires_account"):
        message = "quota scope 'account' needs an account"
        hint = "add `access: {requires_account: true}` or use scope: portal"
        yield problem(item, ("quota", "scope"), message, hint)


def _appointment(item: Item) -> Iterator[Problem]:
    appointment = item.data.get("appointment")
    if not isinstance(appointment, dict) or not item.ok("appointment"):
        return
    mode = appointment.get("mode", "none")
    if mode == "none" and "agenda" in appointment:
        message = "an agenda is given but the appointment mode is 'none'"
        hint = "set mode: optional or required, or remove agenda"
        yield problem(item, ("appointment", "agenda"), message, hint)
    elif mode != "none" and "agenda" not in appointment:
        message = f"appointment mode '{mode}' needs an agenda"
        yield problem(item, ("appointment",), message, "add `agenda: <agenda id>`")


# --- fields ------------------------------------------------------------------------------------


def _field(item: Item, path: KeyPath, fld: dict[str, Any]) -> Iterator[Problem]:
    ftype = fld.get("type")
    if not isinstance(ftype, str):
        return
    for key in REQUIRED_KEYS.get(ftype, ("label",)):
        if key not in fld:
            yield problem(item, path, f"missing required key '{key}' in field '{fld['id']}'")
    allowed = DISPLAY_KEYS if ftype in ("heading", "paragraph") else COMMON_KEYS | TYPE_KEYS[ftype]
    if ftype == "group":
        allowed = allowed - {"required"}  # `min: 1` says it: one way to write one rule
    for key in fld:
        if key not in allowed:
            message = f"'{key}' does not apply to a field of type '{ftype}'"
            yield problem(item, (*path, key), message, _key_hint(key, ftype))
    if ftype in ("choice", "multichoice"):
        yield from _choices(item, path, fld)
    if ftype in BOUNDED_TYPES:
        yield from _bound_forms(item, path, fld, ftype)
    yield from _bounds(item, path, fld, ftype)
    if ftype == "text" and isinstance(fld.get("pattern"), str):
        yield from _pattern(item, path, fld["pattern"])
    for g, sub in enumerate(fld.get("fields") or [] if ftype == "group" else []):
        if isinstance(sub, dict):
            yield from _field(item, (*path, "fields", g), sub)


def _key_hint(key: str, ftype: str) -> str:
    owners = [t for t, keys in TYPE_KEYS.items() if key in keys]
    if key in ("label", "required", "help") and ftype in ("heading", "paragraph"):
        return "a heading or paragraph shows `text:` only"
    if key == "required" and ftype == "group":
        return "write `min: 1` to ask for at least one row"
    return f"it applies to: {', '.join(owners)}" if owners else ""


def _choices(item: Item, path: KeyPath, fld: dict[str, Any]) -> Iterator[Problem]:
    seen: set[object] = set()
    choices = fld.get("choices") or []
    for index, choice in enumerate(choices):
        value = choice.get("value") if isinstance(choice, dict) else choice
        if value in seen:
            yield problem(item, (*path, "choices", index), f"choice '{value}' is listed twice")
        seen.add(value)
    if fld.get("type") != "multichoice" or not choices:
        return
    for key, verb in (("min", "asks for"), ("max", "allows")):
        bound = fld.get(key)
        if isinstance(bound, int | float) and not isinstance(bound, bool) and bound > len(choices):
            message = f"{key} {verb} {bound} ticked boxes but there are only {len(choices)} choices"
            hint = f"lower {key} to {len(choices)}, or add choices"
            yield problem(item, (*path, key), message, hint)


def _bound_forms(item: Item, path: KeyPath, fld: dict[str, Any], ftype: str) -> Iterator[Problem]:
    """`min`/`max` are date bounds on a date field, numbers on the other bounded types."""
    for key in ("min", "max"):
        if key not in fld:
            continue
        value = fld[key]
        if ftype != "date":
            if not _is_number(value):
                yield problem(item, (*path, key), *wrong_type("number", value))
            elif (wrong := _number_problem(key, value, ftype)) is not None:
                yield problem(item, (*path, key), *wrong)
        elif not isinstance(value, str):
            yield problem(item, (*path, key), *wrong_type("string", value))
        elif not _DATE_BOUND.match(value):
            yield problem(item, (*path, key), *wrong_form(DATE_BOUND_PATTERN, value))
        elif (wrong := bound_problem(value)) is not None:
            yield problem(item, (*path, key), *wrong)


def _bounds(item: Item, path: KeyPath, fld: dict[str, Any], ftype: str) -> Iterator[Problem]:
    pairs = [("min_length", "max_length"), ("min", "max")]
    for low_key, high_key in pairs:
        low, high = fld.get(low_key), fld.get(high_key)
        if low is None or high is None:
            continue
        if ftype == "date":
            low_days, high_days = _date_order(low), _date_order(high)
            # An absolute and a relative bound have no fixed order: today moves.
            if low_days and high_days and low_days[0] == high_days[0] and low_days > high_days:
                message = f"date bound min ({low}) is after max ({high})"
                yield problem(item, (*path, high_key), message, "swap min and max")
        elif _is_number(low) and _is_number(high) and low > high:
            message = f"{low_key} ({low}) is greater than {high_key} ({high})"
            yield problem(item, (*path, high_key), message, f"swap {low_key} and {high_key}")


def _number_problem(key: str, value: float, ftype: str) -> tuple[str, str] | None:
    """Bounds the renderer can use as they are: finite numbers; whole counts of boxes or rows.

    The value is not repeated in the message: a huge one would fill the screen.
    """
    if ftype == "number":
        if abs(value) <= MAX_NUMBER:  # false for inf and nan too
            return None
        return f"'{key}' is out of range", "write a number between -10^15 and 10^15"
    if ftype == "group":
        if isinstance(value, int) and 0 <= value <= MAX_GROUP_ROWS:
            return None
        return (
            f"'{key}' is not a possible number of rows",
            f"write a whole number from 0 to {MAX_GROUP_ROWS}",
        )
    if isinstance(value, int) and value >= 0:
        return None
    return (
        f"'{key}' is not a possible number of ticked boxes",
        "write a whole number, at most the number of choices",
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _date_order(bound: object) -> tuple[int, float] | None:
    """A sortable key for two bounds of the same kind: absolute dates, or relative to today."""
    if not isinstance(bound, str) or not _DATE_BOUND.match(bound) or bound_problem(bound):
        return None
    found = _RELATIVE.match(bound)
    if found:
        sign, number, unit = found.groups()
        days = int(number or 0) * _DAYS[unit or "day"] * (-1 if sign == "-" else 1)
        return (1, days)
    digits = bound.replace("-", "")
    return (0, float(digits)) if digits.isdigit() else None


def _pattern(item: Item, path: KeyPath, pattern: str) -> Iterator[Problem]:
    try:
        re.compile(pattern)
    except re.error as exc:
        message = f"pattern does not compile: {exc.msg} at position {exc.pos}"
        hint = "patterns are Python regular expressions; escape special characters with \\"
        yield problem(item, (*path, "pattern"), message, hint)


# --- agendas ----------------------------------------------------------------------------------


def _agenda(item: Item) -> Iterator[Problem]:
    hours_by_day = item.data.get("opening_hours")
    if not isinstance(hours_by_day, dict):
        return
    for day, ranges in hours_by_day.items():
        if not item.ok("opening_hours", day):
            continue
        for index, hours in enumerate(ranges or []):
            start, _, end = str(hours).partition("-")
            if start >= end:
                message = f"opening range '{hours}' ends before it starts"
                yield problem(item, ("opening_hours", day, index), message)
