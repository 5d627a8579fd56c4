r"""The condition language of `visible_if` (fields, steps, documents): parse, check, evaluate.

Grammar (docs/format-v1.md, "Conditions")::

    expr  := or
    or    := and ("or" and)*
    and   := not ("and" not)*
    not   := "not" not | test
    test  := value [ ("=="|"!="|"<"|"<="|">"|">=") value | "in" value | "not" "in" value
                   | "is" "empty" | "is" "not" "empty" ]
    value := NAME | STRING | NUMBER | "true" | "false" | list | "(" expr ")"
    list  := "[" [literal ("," literal)*] "]"

Our own tokenizer and recursive-descent parser; nothing is ever passed to ``eval``.
``x not in y`` parses as ``Not(In(x, y))`` and ``x is not empty`` as ``Not(IsEmpty(x))``.

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

import datetime as dt
import difflib
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

MAX_LENGTH = 2000
MAX_DEPTH = 40
KEYWORDS = frozenset({"and", "or", "not", "in", "is", "empty", "true", "false"})
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
ORDERINGS = frozenset({"<", "<=", ">", ">="})
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


class ConditionError(Exception):
    """A syntax error in a condition; ``column`` is 1-based within the expression."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.column = column

    def __str__(self) -> str:
        return self.message


# --- AST ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Name:
    id: str


@dataclass(frozen=True, slots=True)
class Literal:
    value: str | int | float | bool


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Literal, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class In:
    needle: Expr
    haystack: Expr


@dataclass(frozen=True, slots=True)
class IsEmpty:
    operand: Expr


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Expr, ...]


Expr = Name | Literal | ListLit | Compare | In | IsEmpty | Not | And | Or


# --- tokenizer ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # name, keyword, string, number, op, ( ) [ ] , end
    text: str  # the source text (keyword/name/op text for those kinds)
    column: int
    value: str | int | float | None = None

    def describe(self) -> str:
        if self.kind == "end":
            return "end of condition"
        return self.text if self.kind == "string" else f"'{self.text}'"


_WORD = re.compile(r"[^\W\d]\w*")
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_NUMBER_TAIL = re.compile(r"[\w.]*")
_ESCAPES = {"\\": "\\", "'": "'", '"': '"'}
# Operators people type from other languages, and what to write instead.
_BAD_OPERATORS = {
    "=<": "did you mean '<='?",
    "=>": "did you mean '>='?",
    "<>": "did you mean '!='?",
    "&&": "use 'and'",
    "||": "use 'or'",
    "=": "did you mean '=='?",
    "!": "use 'not'",
    "&": "use 'and'",
    "|": "use 'or'",
}


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char.isspace():
            i += 1
        elif char in "()[],":
            tokens.append(_Token(char, char, i + 1))
            i += 1
        elif char in "'\"":
            token, i = _read_string(source, i)
            tokens.append(token)
        elif char in "0123456789":
            token, i = _read_number(source, i)
            tokens.append(token)
        elif match := _WORD.match(source, i):
            tokens.append(_word_token(match.group(), i + 1))
            i = match.end()
        else:
            token, i = _read_operator(source, i)
            tokens.append(token)
    tokens.append(_Token("end", "", len(source) + 1))
    return tokens


def _read_string(source: str, start: int) -> tuple[_Token, int]:
    quote, i = source[start], start + 1
    chars: list[str] = []
    while i < len(source):
        char = source[i]
        if char == quote:
            return _Token("string", source[start : i + 1], start + 1, "".join(chars)), i + 1
        if char == "\\":
            escaped = source[i + 1 : i + 2]
            if escaped not in _ESCAPES:
                if not escaped:
                    break
                message = f"unknown escape '\\{escaped}' in string (use \\\\ for a backslash)"
                raise ConditionError(message, i + 1)
            chars.append(_ESCAPES[escaped])
            i += 2
        else:
            chars.append(char)
            i += 1
    raise ConditionError("unclosed string", start + 1)


def _read_number(source: str, start: int) -> tuple[_Token, int]:
    match = _NUMBER.match(source, start)
    assert match is not None  # the caller saw a digit
    end = match.end()
    text = match.group()
    if (end < len(source) and (source[end].isalnum() or source[end] in "._")) or len(text) > 30:
        tail = _NUMBER_TAIL.match(source, end)
        shown = text + (tail.group() if tail else "")
        raise ConditionError(f"invalid number '{shown}'", start + 1)
    value: int | float = float(text) if "." in text else int(text)
    return _Token("number", text, start + 1, value), end


def _word_token(word: str, column: int) -> _Token:
    if word in KEYWORDS:
        return _Token("keyword", word, column)
    if _NAME.match(word):
        return _Token("name", word, column, word)
    if word.lower() in KEYWORDS:
        raise ConditionError(f"unknown word '{word}'; did you mean '{word.lower()}'?", column)
    message = f"invalid field id '{word}' (field ids use lowercase letters, digits and '_')"
    raise ConditionError(message, column)


def _read_operator(source: str, start: int) -> tuple[_Token, int]:
    pair = source[start : start + 2]
    if pair in COMPARISONS:
        return _Token("op", pair, start + 1), start + 2
    for bad in (pair, source[start]):
        if bad in _BAD_OPERATORS:
            raise ConditionError(f"unknown operator '{bad}'; {_BAD_OPERATORS[bad]}", start + 1)
    if source[start] in "<>":
        return _Token("op", source[start], start + 1), start + 1
    raise ConditionError(f"unexpected character '{source[start]}'", start + 1)


# --- parser ------------------------------------------------------------------------------


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def next(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def is_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "keyword" and token.text in words

    def operand_missing(self) -> bool:
        return self.peek().kind in {"end", ")", "]", ","} or self.is_keyword("and", "or")

    def value_starts(self) -> bool:
        token = self.peek()
        return token.kind in {"name", "string", "number", "(", "["} or self.is_keyword(
            "true", "false"
        )

    def nest(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConditionError("condition is nested too deeply", token.column)

    def expression(self) -> Expr:
        operands = [self.conjunction()]
        while self.is_keyword("or"):
            keyword = self.next()
            if self.operand_missing():
                raise ConditionError("'or' needs a condition on both sides", keyword.column)
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def conjunction(self) -> Expr:
        operands = [self.negation()]
        while self.is_keyword("and"):
            keyword = self.next()
            if self.operand_missing():
                raise ConditionError("'and' needs a condition on both sides", keyword.column)
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def negation(self) -> Expr:
        if not self.is_keyword("not"):
            return self.test()
        keyword = self.next()
        if self.operand_missing():
            raise ConditionError("expected a condition after 'not'", self.peek().column)
        self.nest(keyword)
        operand = self.negation()
        self.depth -= 1
        return Not(operand)

    def test(self) -> Expr:
        left = self.value()
        token = self.peek()
        if token.kind == "op":
            self.next()
            result: Expr = Compare(token.text, left, self.value_after(token.text))
        elif self.is_keyword("in"):
            self.next()
            result = In(left, self.value_after("in"))
        elif self.is_keyword("not"):
            result = self.negated_test(left)
        elif self.is_keyword("is"):
            result = self.emptiness(left)
        else:
            return left
        if self.peek().kind == "op":
            raise ConditionError("comparisons cannot be chained; use 'and'", self.peek().column)
        return result

    def negated_test(self, left: Expr) -> Expr:
        self.next()
        if self.is_keyword("in"):
            self.next()
            return Not(In(left, self.value_after("not in")))
        if self.is_keyword("empty"):
            raise ConditionError("did you mean 'is not empty'?", self.tokens[self.pos - 1].column)
        raise ConditionError("expected 'in' after 'not'", self.peek().column)

    def emptiness(self, left: Expr) -> Expr:
        self.next()
        negated = self.is_keyword("not")
        if negated:
            self.next()
        if not self.is_keyword("empty"):
            after = "'is not'" if negated else "'is'"
            raise ConditionError(f"expected 'empty' after {after}", self.peek().column)
        self.next()
        return Not(IsEmpty(left)) if negated else IsEmpty(left)

    def value_after(self, what: str) -> Expr:
        if not self.value_starts():
            raise ConditionError(f"expected a value after '{what}'", self.peek().column)
        return self.value()

    def value(self) -> Expr:
        token = self.peek()
        if token.kind in {"string", "number"}:
            self.next()
            assert token.value is not None
            return Literal(token.value)
        if token.kind == "name":
            self.next()
            return Name(token.text)
        if self.is_keyword("true", "false"):
            self.next()
            return Literal(token.text == "true")
        if token.kind == "(":
            return self.parenthesized()
        if token.kind == "[":
            return self.list_literal()
        raise self.unexpected(token)

    def parenthesized(self) -> Expr:
        opening = self.next()
        self.nest(opening)
        inner = self.expression()
        self.depth -= 1
        closing = self.next()
        if closing.kind == ")":
            return inner
        if closing.kind == "end":
            raise ConditionError("unclosed '('", opening.column)
        raise self.unexpected(closing, "expected 'and', 'or' or ')'")

    def list_literal(self) -> ListLit:
        opening = self.next()
        items: list[Literal] = []
        if self.peek().kind == "]":
            self.next()
            return ListLit(())
        while True:
            items.append(self.list_item(opening))
            token = self.next()
            if token.kind == "]":
                return ListLit(tuple(items))
            if token.kind == "end":
                raise ConditionError("unclosed '['", opening.column)
            if token.kind != ",":
                raise self.unexpected(token, "expected ',' or ']'")
            if self.peek().kind in {"]", ","}:
                raise ConditionError("expected a value after ','", self.peek().column)

    def list_item(self, opening: _Token) -> Literal:
        token = self.peek()
        if token.kind == "name":
            message = f"a list holds only values, not the field '{token.text}'"
            raise ConditionError(message, token.column)
        if token.kind == "end":
            raise ConditionError("unclosed '['", opening.column)
        if token.kind not in {"string", "number"} and not self.is_keyword("true", "false"):
            raise ConditionError("a list holds only strings, numbers, true or false", token.column)
        item = self.value()
        assert isinstance(item, Literal)
        return item

    def unexpected(self, token: _Token, expected: str = "") -> ConditionError:
        if token.kind == "keyword" and token.text in {"and", "or"}:
            return ConditionError(f"'{token.text}' needs a condition on both sides", token.column)
        message = f"unexpected {token.describe()}"
        return ConditionError(f"{message} ({expected})" if expected else message, token.column)


@functools.lru_cache(maxsize=4096)
def parse(source: str) -> Expr:
    """Parse a condition; raise ``ConditionError`` (message, 1-based column) when invalid.

    Cached: conditions are parsed when the pack loads and looked up again per request.
    """
    if len(source) > MAX_LENGTH:
        raise ConditionError(f"condition is too long (at most {MAX_LENGTH} characters)", 1)
    parser = _Parser(_tokenize(source))
    if parser.peek().kind == "end":
        raise ConditionError("empty condition", 1)
    expr = parser.expression()
    token = parser.peek()
    if token.kind == ")":
        raise ConditionError("unexpected ')'", token.column)
    if token.kind != "end":
        raise parser.unexpected(token, "expected 'and', 'or' or the end of the condition")
    return expr


def references(expr: Expr) -> frozenset[str]:
    """The field ids an expression reads."""
    if isinstance(expr, Name):
        return frozenset({expr.id})
    return frozenset().union(*(references(child) for child in _children(expr)))


def _children(expr: Expr) -> tuple[Expr, ...]:
    if isinstance(expr, Compare):
        return (expr.left, expr.right)
    if isinstance(expr, In):
        return (expr.needle, expr.haystack)
    if isinstance(expr, IsEmpty | Not):
        return (expr.operand,)
    if isinstance(expr, And | Or):
        return expr.operands
    return ()


# --- static checks -----------------------------------------------------------------------


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
            for child in _children(expr):
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


# --- evaluation --------------------------------------------------------------------------

_NUMERIC = re.compile(r"\s*[+-]?[0-9]{1,20}(?:[.,][0-9]{1,20})?\s*\Z")


def evaluate(expr: Expr, values: Mapping[str, object]) -> bool:
    """Evaluate a condition against draft values (see the module docstring); never raises.

    Values use the draft representation (str, int/float, 'YYYY-MM-DD', bool, list[str],
    dict, list[dict]); a missing key reads as empty.
    """
    if isinstance(expr, Name | Literal | ListLit):
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
    return isinstance(value, list | tuple | dict) and len(value) == 0


def _truthy(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return not _is_empty(value)


def _number(value: object, coerce: bool) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
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
    if deep and isinstance(left, list | tuple) and isinstance(right, list | tuple):
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
    if _is_empty(needle) or isinstance(needle, list | tuple | dict):
        return False
    if not isinstance(haystack, list | tuple):
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
