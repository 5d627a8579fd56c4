"""Static checks of a parsed condition against the fields it may read (load time).

``check`` returns messages only; ``engine.condcheck`` decides which fields a condition may
read and where each message points. Re-exported by ``engine.conditions``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from engine.condition_syntax import (
    ORDERINGS,
    Compare,
    Expr,
    In,
    IsEmpty,
    ListLit,
    Literal,
    Name,
    children,
)

# Field types of the format -> the kind a condition sees. Display-only types have none.
FIELD_KINDS: Mapping[str, str] = {
    "text": "string",
    "textarea": "string",
    "email": "string",
    "phone": "string",
    "postal_code": "string",
    "choice": "string",
    "number": "number",
    "date": "date",
    "checkbox": "boolean",
    "multichoice": "list",
    "address": "address",
    "group": "group",
}


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """What ``check`` knows of a field: its kind and, for choice fields, the allowed values.

    kind: "string", "number", "date", "boolean", "list" (see ``FIELD_KINDS``; "address" and
    "group" may only be tested for emptiness). A tuple of choices keeps the order in messages.
    """

    kind: str
    choices: frozenset[str] | tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class _Operand:
    kind: str
    label: str  # how messages name it: "field 'age' (number)", "'douze' (text)"
    choices: frozenset[str] | tuple[str, ...] | None = None
    field: str | None = None
    literal: Literal | None = None


_KIND_NAMES = {"string": "text"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def check(expr: Expr, fields: Mapping[str, FieldInfo]) -> list[str]:
    """Static errors of a parsed condition against the fields it may read (messages only).

    Reports unknown fields (with a "did you mean"), comparisons of mismatched kinds, ordering
    of booleans and lists, values that are not among a choice field's choices, a list field
    on the left of ``in``, and date literals that are not valid YYYY-MM-DD dates.
    """
    checker = _Checker(fields)
    checker.condition(expr)
    return list(dict.fromkeys(checker.problems))


class _Checker:
    def __init__(self, fields: Mapping[str, FieldInfo]) -> None:
        self.fields = fields
        self.problems: list[str] = []

    def condition(self, expr: Expr) -> None:
        constant = isinstance(expr, ListLit) or (
            isinstance(expr, Literal) and not isinstance(expr.value, bool)
        )
        if constant:
            assert isinstance(expr, Literal | ListLit)
            self.problems.append(f"{_literal_text(expr)} is not a condition")
        else:
            self.operand(expr)

    def operand(self, expr: Expr) -> _Operand | None:
        if isinstance(expr, Name):
            return self.name(expr)
        if isinstance(expr, Literal | ListLit):
            kind = _literal_kind(expr)
            label = f"{_literal_text(expr)} ({_kind_name(kind)})"
            return _Operand(kind, label, literal=expr if isinstance(expr, Literal) else None)
        if isinstance(expr, Compare):
            self.compare(expr)
        elif isinstance(expr, In):
            self.membership(expr)
        elif isinstance(expr, IsEmpty):
            self.operand(expr.operand)
        else:
            for child in children(expr):
                self.condition(child)
        return _Operand("boolean", "a condition (boolean)")

    def name(self, expr: Name) -> _Operand | None:
        info = self.fields.get(expr.id)
        if info is None:
            close = difflib.get_close_matches(expr.id, list(self.fields), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            self.problems.append(f"unknown field '{expr.id}'{hint}")
            return None
        label = f"field '{expr.id}' ({_kind_name(info.kind)})"
        return _Operand(info.kind, label, info.choices, field=expr.id)

    def compare(self, expr: Compare) -> None:
        left, right = self.operand(expr.left), self.operand(expr.right)
        if left is None or right is None:
            return
        if expr.op in ORDERINGS:
            for side in (left, right):
                if side.kind in {"boolean", "list", "address", "group"}:
                    self.problems.append(f"cannot use '{expr.op}' with {side.label}")
                    return
        if self.compatible(left, right):
            self.values_are_choices(left, expr.right)
            self.values_are_choices(right, expr.left)

    def compatible(self, left: _Operand, right: _Operand) -> bool:
        for date_side, other in ((left, right), (right, left)):
            if date_side.kind == "date" and other.literal is not None and other.kind == "string":
                self.date_literal(other.literal)
                return True
        if left.kind == right.kind and left.kind not in {"address", "group"}:
            return True
        self.problems.append(f"cannot compare {left.label} with {right.label}")
        return False

    def date_literal(self, literal: Literal) -> None:
        text = str(literal.value)
        try:
            valid = bool(_DATE.match(text)) and dt.date.fromisoformat(text) is not None
        except ValueError:
            valid = False
        if not valid:
            self.problems.append(f"{_literal_text(literal)} is not a date (expected YYYY-MM-DD)")

    def values_are_choices(self, side: _Operand, other: Expr) -> None:
        if side.choices is None or side.field is None:
            return
        items = other.items if isinstance(other, ListLit) else (other,)
        for item in items:
            if isinstance(item, Literal) and isinstance(item.value, str):
                self.choice(side, item.value)

    def choice(self, side: _Operand, value: str) -> None:
        choices = side.choices or ()
        if value not in choices:
            shown = choices if isinstance(choices, tuple) else sorted(choices)
            self.problems.append(
                f"'{value}' is not a choice of field '{side.field}' (choices: {', '.join(shown)})"
            )

    def membership(self, expr: In) -> None:
        needle, haystack = self.operand(expr.needle), self.operand(expr.haystack)
        if needle is None or haystack is None:
            return
        if isinstance(expr.haystack, ListLit):
            if needle.kind == "list":
                example = next((_literal_text(i) for i in expr.haystack.items), "'valeur'")
                self.problems.append(
                    f"{needle.label} cannot be in a list (write {example} in {needle.field})"
                )
                return
            for item in expr.haystack.items:
                self.compare(Compare("==", expr.needle, item))
        elif haystack.kind == "list":
            if needle.kind != "string":
                self.problems.append(f"cannot look for {needle.label} in {haystack.label}")
            else:
                self.values_are_choices(haystack, expr.needle)
        else:
            self.problems.append(f"'in' needs a list on its right, not {haystack.label}")


def _literal_kind(expr: Literal | ListLit) -> str:
    if isinstance(expr, ListLit):
        return "list"
    if isinstance(expr.value, bool):
        return "boolean"
    return "string" if isinstance(expr.value, str) else "number"


def _literal_text(expr: Literal | ListLit) -> str:
    if isinstance(expr, ListLit):
        return "[" + ", ".join(_literal_text(item) for item in expr.items) + "]"
    value = expr.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"' if "'" in value else f"'{value}'"
    return str(value)


def _kind_name(kind: str) -> str:
    return _KIND_NAMES.get(kind, kind)
