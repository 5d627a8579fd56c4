r"""The condition language of `visible_if` (fields, steps, documents): parse, check, evaluate.

Syntax: ``engine.condition_syntax`` (grammar there and in docs/format-v1.md, "Conditions"),
our own tokenizer and recursive-descent parser; nothing is ever passed to ``eval``. Static
checks: ``engine.condition_types``. This module is the public face of the language: it
re-exports ``parse``, ``references``, ``check``, ``FieldInfo``, ``ConditionError``,
``FIELD_KINDS`` and the AST node classes, and holds evaluation and the browser form.

Runtime semantics (``evaluate``; the browser script must implement the same):

- Empty: a missing value, ``None``, a blank string, ``[]`` or ``{}``.
- A bare value is true when it is not empty; a boolean is itself (an unticked checkbox is
  false); ``0`` is not empty, hence true.
- ``==`` / ``<`` ... with an empty operand are false and ``!=`` is true, except against a
  boolean: ``x == false`` compares the truth of ``x``, so an unticked or missing checkbox
  equals ``false``.
- When one operand is a number, the other is converted if it is a numeric string ("12",
  "3,5"); otherwise ``==`` is false. Strings compare exactly and order by code point (dates
  are 'YYYY-MM-DD', so they order correctly). Lists are equal when they hold the same items,
  in any order; booleans and lists cannot be ordered (false).
- ``x in list``: ``x`` equals an item of the list; false when ``x`` is empty or is a list,
  or when the right side is not a list.
- Evaluation is total: it never raises, whatever the values.

For the browser: "blank" is ``str.strip() == ""`` (JS ``trim()``), a numeric string matches
``\s*[+-]?[0-9]{1,20}([.,][0-9]{1,20})?\s*`` (comma read as a decimal point), and a hidden
field must read as empty there too. (JS orders strings by UTF-16 unit, Python by code point:
they differ only past U+FFFF, which dates and choices never contain.)

``to_js`` turns an expression into a JSON tree for the progressive-enhancement script::

    {"op": "field", "id": "regime"}
    {"op": "value", "value": "PAI"}            # string, number or boolean
    {"op": "list", "items": ["a", "b"]}
    {"op": "==" | "!=" | "<" | "<=" | ">" | ">=", "args": [left, right]}
    {"op": "in", "args": [needle, haystack]}
    {"op": "empty", "args": [operand]}
    {"op": "not", "args": [operand]}
    {"op": "and" | "or", "args": [operand, operand, ...]}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

from engine.condition_syntax import (
    COMPARISONS,
    KEYWORDS,
    MAX_DEPTH,
    MAX_LENGTH,
    ORDERINGS,
    And,
    Compare,
    ConditionError,
    Expr,
    In,
    IsEmpty,
    ListLit,
    Literal,
    Name,
    Not,
    Or,
    parse,
    references,
)
from engine.condition_types import FIELD_KINDS, FieldInfo, check

__all__ = [
    "COMPARISONS",
    "FIELD_KINDS",
    "KEYWORDS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "ORDERINGS",
    "And",
    "Compare",
    "ConditionError",
    "Expr",
    "FieldInfo",
    "In",
    "IsEmpty",
    "ListLit",
    "Literal",
    "Name",
    "Not",
    "Or",
    "check",
    "evaluate",
    "parse",
    "references",
    "to_js",
]

# --- evaluation --------------------------------------------------------------------------

_NUMERIC = re.compile(r"\s*[+-]?[0-9]{1,20}(?:[.,][0-9]{1,20})?\s*\Z")
# isinstance() tuples, built once: ``isinstance(x, A | B)`` builds a union at every call, and
# conditions are evaluated for every field of every step, at every page and submission.
_OPERANDS = (Name, Literal, ListLit)
_NUMBERS = (int, float)
_SEQUENCES = (list, tuple)
_CONTAINERS = (list, tuple, dict)


def evaluate(expr: Expr, values: Mapping[str, object]) -> bool:
    """Evaluate a condition against draft values (see the module docstring); never raises.

    Values use the draft representation (str, int/float, 'YYYY-MM-DD', bool, list[str],
    dict, list[dict]); a missing key reads as empty.
    """
    if isinstance(expr, _OPERANDS):
        return _truthy(_operand(expr, values))
    if isinstance(expr, Compare):
        left, right = _operand(expr.left, values), _operand(expr.right, values)
        if expr.op in {"==", "!="}:
            return _equal(left, right) == (expr.op == "==")
        return _ordered(expr.op, left, right)
    if isinstance(expr, In):
        return _contains(_operand(expr.needle, values), _operand(expr.haystack, values))
    if isinstance(expr, IsEmpty):
        return _is_empty(_operand(expr.operand, values))
    if isinstance(expr, Not):
        return not evaluate(expr.operand, values)
    if isinstance(expr, And):
        return all(evaluate(operand, values) for operand in expr.operands)
    return any(evaluate(operand, values) for operand in expr.operands)


def _operand(expr: Expr, values: Mapping[str, object]) -> object:
    if isinstance(expr, Name):
        return values.get(expr.id)
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, ListLit):
        return [item.value for item in expr.items]
    return evaluate(expr, values)


def _is_empty(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, _CONTAINERS) and len(value) == 0


def _truthy(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return not _is_empty(value)


def _number(value: object, coerce: bool) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, _NUMBERS):
        return value
    if coerce and isinstance(value, str) and _NUMERIC.match(value):
        return float(value.replace(",", "."))
    return None


def _is_number(value: object) -> bool:
    return _number(value, coerce=False) is not None


def _equal(left: object, right: object, deep: bool = True) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return _truthy(left) == _truthy(right)
    if _is_empty(left) or _is_empty(right):
        return False
    if _is_number(left) or _is_number(right):
        a, b = _number(left, coerce=True), _number(right, coerce=True)
        return a is not None and b is not None and a == b
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    if deep and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        return all(any(_equal(a, b, deep=False) for b in right) for a in left) and all(
            any(_equal(b, a, deep=False) for a in left) for b in right
        )
    return False


def _ordered(op: str, left: object, right: object) -> bool:
    if isinstance(left, bool) or isinstance(right, bool) or _is_empty(left) or _is_empty(right):
        return False
    if _is_number(left) or _is_number(right):
        a, b = _number(left, coerce=True), _number(right, coerce=True)
        return a is not None and b is not None and _apply_order(op, float(a), float(b))
    if isinstance(left, str) and isinstance(right, str):
        return _apply_order(op, left, right)
    return False


_Ordered = TypeVar("_Ordered", float, str)


def _apply_order(op: str, a: _Ordered, b: _Ordered) -> bool:
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _contains(needle: object, haystack: object) -> bool:
    if _is_empty(needle) or isinstance(needle, _CONTAINERS):
        return False
    if not isinstance(haystack, _SEQUENCES):
        return False
    return any(_equal(needle, item, deep=False) for item in haystack)


# --- browser -----------------------------------------------------------------------------


def to_js(expr: Expr) -> dict[str, object]:
    """The JSON tree the browser script evaluates (shape in the module docstring)."""
    if isinstance(expr, Name):
        return {"op": "field", "id": expr.id}
    if isinstance(expr, Literal):
        return {"op": "value", "value": expr.value}
    if isinstance(expr, ListLit):
        return {"op": "list", "items": [item.value for item in expr.items]}
    if isinstance(expr, Compare):
        return {"op": expr.op, "args": [to_js(expr.left), to_js(expr.right)]}
    if isinstance(expr, In):
        return {"op": "in", "args": [to_js(expr.needle), to_js(expr.haystack)]}
    if isinstance(expr, IsEmpty):
        return {"op": "empty", "args": [to_js(expr.operand)]}
    if isinstance(expr, Not):
        return {"op": "not", "args": [to_js(expr.operand)]}
    op = "and" if isinstance(expr, And) else "or"
    return {"op": op, "args": [to_js(operand) for operand in expr.operands]}
