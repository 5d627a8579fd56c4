"""Validation stamps: which steps of a draft must be validated again at submission.

A step POST that validates records in the draft, under the step's key, a stamp: a digest of
everything the validation read, i.e. the code that validates (``REVISION``), the procedure
version, the day (date bounds such as "today - 18 years" move with it), the step's own stored
values, and the stored values of the fields of other steps that its conditions depend on,
directly or through other conditions (``engine.rules.step_dependencies``). At submission a
step whose stamp, computed again from the draft, is the recorded one would validate exactly
as it did; every other step (stamp missing or different) is validated again.

Why this keeps the server authoritative: the draft lives server-side (``storage.drafts``,
keyed by the browser session) and the browser never sees or sends it. Its values and stamps
are written only by a step POST after that step validated (``routes.wizard._store``), by a
version migration (which drops every stamp), or by the submission itself; the documents and
appointment steps never touch values or stamps. So a recorded stamp that matches means
these very values were validated, under the same code, version and day, against the same
values of the fields that can change what the step shows. A later change of an earlier
answer changes the dependent steps' stamps (or, when it hides their fields, their own stored
values), and those steps are validated again. A mismatch only costs a validation: any doubt
(a value that serialises differently, a draft from before stamps existed) falls on the safe
side.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine import condition_syntax, conditions, rules
from engine.model import Procedure, Step
from renderer import forms
from storage.db import dump_json

STAMPS = "stamps"  # the draft's key: step key -> stamp


def _revision() -> str:
    """A digest of the modules whose code decides whether values validate."""
    digest = hashlib.blake2b(digest_size=8)
    for module in (forms, rules, conditions, condition_syntax):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()


REVISION = _revision()


def stamp(
    proc: Procedure,
    key: str,
    step: Step,
    own: Mapping[str, Any],
    values: Mapping[str, Any],
    today: dt.date,
) -> str:
    """The stamp of step ``key``: ``own`` holds its stored values (the applicant's data, or
    the draft's values), ``values`` the draft's values (conditions read them)."""
    mine = {f.id: own[f.id] for f in step.fields if f.id in own}
    deps = (
        {}
        if step is forms.APPLICANT_STEP
        else {n: values[n] for n in rules.step_dependencies(proc, step) if n in values}
    )
    text = dump_json([REVISION, proc.version, key, today.isoformat(), mine, deps], default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def record(draft: dict[str, Any], key: str, value: str) -> None:
    """Remember that step ``key`` validated with stamp ``value``."""
    found = draft.get(STAMPS)
    if not isinstance(found, dict):
        found = draft[STAMPS] = {}
    found[key] = value


def recorded(draft: Mapping[str, Any], key: str) -> str | None:
    """The stamp step ``key`` last validated with, if any."""
    found = draft.get(STAMPS)
    value = found.get(key) if isinstance(found, dict) else None
    return value if isinstance(value, str) else None


def is_current(draft: Mapping[str, Any], key: str, value: str) -> bool:
    """Whether step ``key`` last validated with stamp ``value``."""
    return recorded(draft, key) == value
