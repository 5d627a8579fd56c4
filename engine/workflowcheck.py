"""Cross-checks of a workflow: state references, final states, cancellation, reachability.

States named by `initial`, `cancel_to` and the transitions must exist (checked for every part
whose own schema check passed). The shape checks (a final state, nothing leaves a final state,
cancellation, every state reachable) need the whole workflow: they wait until its schema
problems are fixed, since a broken transition would make states look unreachable.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.errors import KeyPath, Problem
from engine.layers import Item
from engine.references import did_you_mean


def check_workflow(item: Item) -> Iterator[Problem]:
    """Every cross-check problem of one workflow."""
    data = item.data
    states = data.get("states")
    if not isinstance(states, dict):
        return  # a state with a schema problem still exists: its id can be referred to
    transitions = data.get("transitions")
    transitions = transitions if isinstance(transitions, list) else []
    for path, ref in _state_refs(item, transitions):
        if ref not in states:
            yield _problem(item, path, f"unknown state '{ref}'", did_you_mean(str(ref), states))
    if item.valid:
        yield from _shape(item, states, transitions)
        yield from _unreachable(item, states, transitions)


def _problem(item: Item, path: KeyPath, message: str, hint: str = "") -> Problem:
    return Problem(item.entry.display, 0, 0, message, (*item.base, *path), hint)


def _state_refs(item: Item, transitions: list[Any]) -> Iterator[tuple[KeyPath, object]]:
    for key in ("initial", "cancel_to"):
        if key in item.data and item.ok(key):
            yield (key,), item.data[key]
    for t, transition in enumerate(transitions):
        if not item.ok("transitions", t):
            continue
        for s, source in enumerate(_sources(transition)):
            path: KeyPath = ("transitions", t, "from")
            yield ((*path, s) if isinstance(transition["from"], list) else path), source
        yield ("transitions", t, "to"), transition.get("to")


def _sources(transition: dict[str, Any]) -> list[Any]:
    source = transition.get("from")
    return list(source) if isinstance(source, list) else [source]


def _shape(
    item: Item, states: dict[str, Any], transitions: list[dict[str, Any]]
) -> Iterator[Problem]:
    finals = [s for s, state in states.items() if state.get("final")]
    if not finals:
        yield _problem(item, ("states",), "no final state", "mark the closing states `final: true`")
    seen: set[object] = set()
    for t, transition in enumerate(transitions):
        if transition.get("id") in seen:
            message = f"transition id '{transition['id']}' is used twice"
            yield _problem(item, ("transitions", t, "id"), message)
        seen.add(transition.get("id"))
        for source in _sources(transition):
            if source in finals:
                message = f"transition '{transition['id']}' leaves the final state '{source}'"
                hint = "a final state closes the request"
                yield _problem(item, ("transitions", t, "from"), message, hint)
    yield from _cancellation(item, states)


def _cancellation(item: Item, states: dict[str, Any]) -> Iterator[Problem]:
    cancel_to = item.data.get("cancel_to")
    if cancel_to in states and not states[cancel_to].get("final"):
        message = f"cancel_to state '{cancel_to}' is not final"
        yield _problem(item, ("cancel_to",), message, "mark it `final: true`")
    for state_id, state in states.items():
        if state.get("citizen_can_cancel") and state.get("final"):
            message = f"state '{state_id}' is final: the citizen cannot cancel a closed request"
            hint = "remove `citizen_can_cancel: true` from it"
            yield _problem(item, ("states", state_id, "citizen_can_cancel"), message, hint)
    cancellable = [s for s, state in states.items() if state.get("citizen_can_cancel")]
    if cancellable and cancel_to is None:
        message = f"state '{cancellable[0]}' lets the citizen cancel but there is no cancel_to"
        path = ("states", cancellable[0], "citizen_can_cancel")
        yield _problem(item, path, message, "add `cancel_to: <final state>`")


def _unreachable(
    item: Item, states: dict[str, Any], transitions: list[dict[str, Any]]
) -> Iterator[Problem]:
    initial = item.data.get("initial")
    if initial not in states:
        return
    reached = {initial}
    # The citizen's cancellation ("Annuler ma demande") reaches cancel_to without a transition.
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
            hint = "add a transition to it, or remove it"
            yield _problem(item, ("states", state_id), message, hint)
