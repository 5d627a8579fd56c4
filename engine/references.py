"""References between files: a procedure's theme, service, workflow, agenda and document types.

A reference to an item that no layer defines is "unknown" (with a did-you-mean hint or where
to declare it); to an item a later layer disabled, the message names the file that disabled it.
References to the items of a file that could not be loaded are left for a second run.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from typing import Any

from engine.errors import KeyPath, Problem
from engine.layers import DISABLED, Item, Layered

_DECLARE = {
    "theme": "declare it under `themes:` in portal.yaml",
    "service": "declare it in services.yaml",
    "workflow": "add workflows/<id>.yaml",
    "agenda": "declare it in agendas.yaml",
    "document type": "declare it in document-types.yaml",
}
DEFAULT_WORKFLOW = "default"


def disabled_by(layered: Layered, kind: str, item_id: str) -> str:
    """The file that disabled the item last, or '' when it is not disabled."""
    history = layered.history.get((kind, item_id))
    if history and history[-1][2] == DISABLED:
        return history[-1][1]
    return ""


def did_you_mean(word: str, options: Iterable[object]) -> str:
    close = difflib.get_close_matches(word, [str(o) for o in options], n=1)
    return f"did you mean '{close[0]}'?" if close else ""


def procedure_references(item: Item, layered: Layered) -> Iterator[Problem]:
    """Problems of the references of one procedure (the default workflow aside)."""
    data = item.data
    refs: list[tuple[KeyPath, str, Any]] = [
        (("theme",), "theme", data.get("theme")),
        (("service",), "service", data.get("service")),
        (("workflow",), "workflow", data.get("workflow")),
    ]
    appointment = data.get("appointment")
    if isinstance(appointment, dict) and appointment.get("mode", "none") != "none":
        refs.append((("appointment", "agenda"), "agenda", appointment.get("agenda")))
    documents = data.get("documents")
    for index, doc in enumerate(documents if isinstance(documents, list) else []):
        if isinstance(doc, dict):
            refs.append((("documents", index, "type"), "document type", doc.get("type")))
    for path, kind, ref in refs:
        if not isinstance(ref, str) or not item.ok(*path):
            continue
        if ref in layered.of(kind) or layered.not_loaded(kind, ref):
            continue
        yield _unknown(item, layered, path, kind, ref)


def _unknown(item: Item, layered: Layered, path: KeyPath, kind: str, ref: str) -> Problem:
    disabler = disabled_by(layered, kind, ref)
    if disabler:
        message = f"{kind} '{ref}' is disabled by {disabler}"
        hint = f"choose another {kind}, or replace or disable this procedure in that layer too"
    else:
        message = f"unknown {kind} '{ref}'"
        hint = did_you_mean(ref, layered.of(kind)) or _DECLARE[kind]
    return Problem(item.entry.display, 0, 0, message, (*item.base, *path), hint)


def default_workflow(layered: Layered, procedures: list[Item]) -> Iterator[Problem]:
    """One problem when procedures without `workflow:` exist and the default workflow does not.

    It is reported once, on the first of those procedures: one file fixes them all.
    """
    if DEFAULT_WORKFLOW in layered.of("workflow"):
        return
    if layered.not_loaded("workflow", DEFAULT_WORKFLOW):
        return
    users = sorted(
        (p for p in procedures if "workflow" not in p.data), key=lambda p: p.entry.display
    )
    if not users:
        return
    others = len(users) - 1
    who = f", this one and {others} other{'s' if others > 1 else ''}" if others else ""
    disabler = disabled_by(layered, "workflow", DEFAULT_WORKFLOW)
    if disabler:
        message = f"workflow '{DEFAULT_WORKFLOW}' is disabled by {disabler}"
        hint = f"procedures without `workflow:` use it{who}: name another workflow in them"
    else:
        message = f"no workflow '{DEFAULT_WORKFLOW}'"
        hint = f"procedures without `workflow:` use it{who}: add workflows/default.yaml"
    yield Problem(users[0].entry.display, 0, 0, message, users[0].base, hint)
