"""Pack-wide checks that a JSON Schema cannot express (or that it would express slowly).

They run on the layered items whose own schema check passed: unique ids, references between
files, per-type field rules (keys that apply, keys required, the form of `min`/`max`, worded
as the schema words its own problems), bounds, patterns, quotas, opening windows, appointments
and workflows. Conditions are checked by ``engine.condcheck``. Each finding names the file and
the key path; the pipeline turns the path into a line by re-reading the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from engine.condcheck import check_conditions
from engine.errors import KeyPath, Problem
from engine.layers import Item, Layered
from engine.schema import DATE_BOUND_PATTERN
from engine.schema_messages import wrong_form, wrong_type

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


class Finding(NamedTuple):
    """A problem, and for a condition the 1-based column of the error inside the condition."""

    problem: Problem
    value_column: int = 0


def check_pack(layered: Layered) -> list[Finding]:
    """Every cross-check problem of the layered pack."""
    out: list[Finding] = []
    out += _portal(layered)
    for item in _valid(layered, "procedure"):
        out += _procedure(item, layered)
    for item in _valid(layered, "workflow"):
        out += (Finding(p) for p in _workflow(item))
    for item in _valid(layered, "agenda"):
        out += (Finding(p) for p in _agenda(item))
    for item in _valid(layered, "news"):
        out += (Finding(p) for p in _window(item, ("publish",)))
    return out


def _valid(layered: Layered, kind: str) -> Iterator[Item]:
    return (item for item in layered.of(kind).values() if item.valid)


def problem(item: Item, path: KeyPath, message: str, hint: str = "") -> Problem:
    """A problem about ``path`` inside ``item`` (line and column are filled later)."""
    return Problem(item.entry.display, 0, 0, message, (*item.base, *path), hint)


# --- portal ------------------------------------------------------------------------------------


def _portal(layered: Layered) -> list[Finding]:
    out: list[Finding] = []
    portal = layered.portal
    if portal is None:
        first = layered.layers[0] if layered.layers else "."
        hint = "create portal.yaml with at least `name:` and `themes:`"
        return [Finding(Problem(first, 0, 0, "no portal.yaml in any layer", hint=hint))]
    if not layered.portal_valid:
        return out
    entry = layered.portal_entry
    assert entry is not None
    if not portal.get("name"):
        out.append(Finding(Problem(entry.display, 0, 0, "the portal needs a name", ("name",))))
    procedures = layered.of("procedure")
    featured_entry = layered.portal_keys.get("featured", entry)
    for index, proc_id in enumerate(portal.get("featured") or []):
        if proc_id not in procedures:
            message = f"featured procedure '{proc_id}' does not exist"
            hint = _did_you_mean(proc_id, procedures)
            path = ("featured", index)
            out.append(Finding(Problem(featured_entry.display, 0, 0, message, path, hint)))
    logo = portal.get("logo")
    logo_entry = layered.portal_keys.get("logo", entry)
    if isinstance(logo, str) and logo and not (logo_entry.layer_path / logo).is_file():
        message = f"logo file '{logo}' does not exist"
        hint = f"the path is relative to the layer folder {logo_entry.layer}"
        out.append(Finding(Problem(logo_entry.display, 0, 0, message, ("logo",), hint)))
    return out


# --- procedures --------------------------------------------------------------------------------


def _procedure(item: Item, layered: Layered) -> list[Finding]:
    data = item.data
    problems = [
        *_references(item, layered),
        *_unique_ids(item),
        *_window(item, ("open",)),
        *_quota(item),
        *_appointment(item),
    ]
    for s, step in enumerate(data.get("steps") or []):
        for f, fld in enumerate(step.get("fields") or []):
            problems += _field(item, ("steps", s, "fields", f), fld)
    findings = [Finding(p) for p in problems]
    for path, message, hint, column in check_conditions(data):
        findings.append(Finding(problem(item, path, message, hint), column))
    return findings


def _references(item: Item, layered: Layered) -> Iterator[Problem]:
    data = item.data
    refs: list[tuple[KeyPath, str, Any]] = [
        (("theme",), "theme", data.get("theme")),
        (("service",), "service", data.get("service")),
        (("workflow",), "workflow", data.get("workflow", "default")),
    ]
    appointment = data.get("appointment") or {}
    if appointment.get("mode", "none") != "none" and "agenda" in appointment:
        refs.append((("appointment", "agenda"), "agenda", appointment["agenda"]))
    for index, doc in enumerate(data.get("documents") or []):
        refs.append((("documents", index, "type"), "document type", doc.get("type")))
    for path, kind, ref in refs:
        known = layered.of(kind)
        if isinstance(ref, str) and ref not in known:
            message = f"unknown {kind} '{ref}'"
            if kind == "workflow" and "workflow" not in data:
                path, message = (), f"unknown workflow '{ref}' (the default)"
            history = layered.history.get((kind, ref))
            if history and history[-1][2] == "disabled":
                hint = f"it is disabled by {history[-1][1]}"
            else:
                hint = _did_you_mean(ref, known) or _declare_hint(kind)
            yield problem(item, path, message, hint)


def _declare_hint(kind: str) -> str:
    return {
        "theme": "declare it under `themes:` in portal.yaml",
        "service": "declare it in services.yaml",
        "workflow": "add workflows/<id>.yaml",
        "agenda": "declare it in agendas.yaml",
        "document type": "declare it in document-types.yaml",
    }[kind]


def _did_you_mean(word: str, options: Any) -> str:
    import difflib

    close = difflib.get_close_matches(word, [str(o) for o in options], n=1)
    return f"did you mean '{close[0]}'?" if close else ""


def _unique_ids(item: Item) -> Iterator[Problem]:
    steps: dict[str, int] = {}
    fields: dict[str, str] = {}
    for s, step in enumerate(item.data.get("steps") or []):
        if step.get("id") in steps:
            yield problem(item, ("steps", s, "id"), f"step id '{step['id']}' is used twice")
        steps.setdefault(step.get("id"), s)
        for f, fld in enumerate(step.get("fields") or []):
            path = ("steps", s, "fields", f, "id")
            if fld.get("id") in fields:
                message = f"field id '{fld['id']}' is already used in step '{fields[fld['id']]}'"
                hint = "field ids must be unique in a procedure"
                yield problem(item, path, message, hint)
            fields.setdefault(fld.get("id"), step.get("id"))
            sub_ids: set[str] = set()
            for g, sub in enumerate(fld.get("fields") or []):
                if sub.get("id") in sub_ids:
                    message = f"field id '{sub['id']}' is used twice in group '{fld['id']}'"
                    yield problem(item, (*path[:-1], "fields", g, "id"), message)
                sub_ids.add(sub.get("id"))


def _window(item: Item, key: KeyPath) -> Iterator[Problem]:
    window = item.data.get(str(key[0])) or {}
    start, end = window.get("from"), window.get("until")
    if isinstance(start, str) and isinstance(end, str) and start > end:
        message = f"'from' ({start}) is after 'until' ({end})"
        yield problem(item, (*key, "until"), message, "swap the dates")


def _quota(item: Item) -> Iterator[Problem]:
    quota = item.data.get("quota")
    if not quota:
        return
    if isinstance(quota.get("max"), int) and quota["max"] < 1:
        yield problem(item, ("quota", "max"), "quota max must be at least 1")
    access = item.data.get("access") or {}
    if quota.get("scope") == "account" and not access.get("requires_account"):
        message = "quota scope 'account' needs an account"
        hint = "add `access: {requires_account: true}` or use scope: portal"
        yield problem(item, ("quota", "scope"), message, hint)


def _appointment(item: Item) -> Iterator[Problem]:
    appointment = item.data.get("appointment") or {}
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
    return f"it applies to: {', '.join(owners)}" if owners else ""


def _choices(item: Item, path: KeyPath, fld: dict[str, Any]) -> Iterator[Problem]:
    seen: set[object] = set()
    for index, choice in enumerate(fld.get("choices") or []):
        value = choice.get("value") if isinstance(choice, dict) else choice
        if value in seen:
            yield problem(item, (*path, "choices", index), f"choice '{value}' is listed twice")
        seen.add(value)


def _bound_forms(item: Item, path: KeyPath, fld: dict[str, Any], ftype: str) -> Iterator[Problem]:
    """`min`/`max` are date bounds on a date field, numbers on the other bounded types."""
    for key in ("min", "max"):
        if key not in fld:
            continue
        value = fld[key]
        if ftype != "date":
            if not _is_number(value):
                yield problem(item, (*path, key), *wrong_type("number", value))
        elif not isinstance(value, str):
            yield problem(item, (*path, key), *wrong_type("string", value))
        elif not _DATE_BOUND.match(value):
            yield problem(item, (*path, key), *wrong_form(DATE_BOUND_PATTERN, value))


def _bounds(item: Item, path: KeyPath, fld: dict[str, Any], ftype: str) -> Iterator[Problem]:
    pairs = [("min_length", "max_length"), ("min", "max")]
    for low_key, high_key in pairs:
        low, high = fld.get(low_key), fld.get(high_key)
        if low is None or high is None:
            continue
        if ftype == "date":
            low_days, high_days = _date_order(low), _date_order(high)
            if low_days is not None and high_days is not None and low_days > high_days:
                message = f"date bound min ({low}) is after max ({high})"
                yield problem(item, (*path, high_key), message, "swap min and max")
        elif _is_number(low) and _is_number(high) and low > high:
            message = f"{low_key} ({low}) is greater than {high_key} ({high})"
            yield problem(item, (*path, high_key), message, f"swap {low_key} and {high_key}")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _date_order(bound: object) -> tuple[int, float] | None:
    """A sortable key for two bounds of the same kind: absolute dates, or relative to today."""
    if not isinstance(bound, str):
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


# --- agendas and workflows --------------------------------------------------------------------


def _agenda(item: Item) -> Iterator[Problem]:
    for day, ranges in (item.data.get("opening_hours") or {}).items():
        for index, hours in enumerate(ranges or []):
            start, _, end = str(hours).partition("-")
            if start >= end:
                message = f"opening range '{hours}' ends before it starts"
                yield problem(item, ("opening_hours", day, index), message)


def _workflow(item: Item) -> Iterator[Problem]:
    data = item.data
    states: dict[str, Any] = data.get("states") or {}
    transitions: list[dict[str, Any]] = data.get("transitions") or []
    refs: list[tuple[KeyPath, Any]] = [(("initial",), data.get("initial"))]
    if "cancel_to" in data:
        refs.append((("cancel_to",), data["cancel_to"]))
    for t, transition in enumerate(transitions):
        for s, source in enumerate(_sources(transition)):
            path: KeyPath = ("transitions", t, "from")
            if isinstance(transition["from"], list):
                path = (*path, s)
            refs.append((path, source))
        refs.append((("transitions", t, "to"), transition.get("to")))
    for path, ref in refs:
        if ref not in states:
            message = f"unknown state '{ref}'"
            yield problem(item, path, message, _did_you_mean(str(ref), states))
    yield from _workflow_shape(item, states, transitions)


def _sources(transition: dict[str, Any]) -> list[Any]:
    source = transition.get("from")
    return list(source) if isinstance(source, list) else [source]


def _workflow_shape(
    item: Item, states: dict[str, Any], transitions: list[dict[str, Any]]
) -> Iterator[Problem]:
    data = item.data
    finals = [s for s, state in states.items() if state.get("final")]
    if not finals:
        yield problem(item, ("states",), "no final state", "mark the closing states `final: true`")
    seen: set[object] = set()
    for t, transition in enumerate(transitions):
        if transition.get("id") in seen:
            yield problem(
                item, ("transitions", t, "id"), f"transition id '{transition['id']}' is used twice"
            )
        seen.add(transition.get("id"))
        for source in _sources(transition):
            if source in finals:
                message = f"transition '{transition['id']}' leaves the final state '{source}'"
                yield problem(
                    item, ("transitions", t, "from"), message, "a final state closes the request"
                )
    cancel_to = data.get("cancel_to")
    if cancel_to in states and not states[cancel_to].get("final"):
        yield problem(
            item,
            ("cancel_to",),
            f"cancel_to state '{cancel_to}' is not final",
            "mark it `final: true`",
        )
    cancellable = [s for s, state in states.items() if state.get("citizen_can_cancel")]
    if cancellable and cancel_to is None:
        message = f"state '{cancellable[0]}' lets the citizen cancel but there is no cancel_to"
        yield problem(
            item,
            ("states", cancellable[0], "citizen_can_cancel"),
            message,
            "add `cancel_to: <final state>`",
        )
    yield from _unreachable(item, states, transitions)


def _unreachable(
    item: Item, states: dict[str, Any], transitions: list[dict[str, Any]]
) -> Iterator[Problem]:
    initial = item.data.get("initial")
    if initial not in states:
        return
    reached = {initial}
    if item.data.get("cancel_to") in states and any(
        s.get("citizen_can_cancel") for s in states.values()
    ):
        reached.add(item.data["cancel_to"])
    changed = True
    while changed:
        changed = False
        for transition in transitions:
            target = transition.get("to")
            if target not in reached and reached.intersection(_sources(transition)):
                reached.add(target)
                changed = True
    for state_id in states:
        if state_id not in reached:
            message = f"state '{state_id}' cannot be reached from the initial state '{initial}'"
            yield problem(
                item, ("states", state_id), message, "add a transition to it, or remove it"
            )
