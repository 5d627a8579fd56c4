r"""Syntax of the condition language: tokenizer, recursive-descent parser and the AST.

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

``parse`` raises ``ConditionError`` with a 1-based column and a message that says what to
write instead. Static checks live in ``engine.condition_types``; evaluation and the browser
form in ``engine.conditions``, which re-exports everything public here.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

MAX_LENGTH = 2000
MAX_DEPTH = 40
KEYWORDS = frozenset({"and", "or", "not", "in", "is", "empty", "true", "false"})
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
ORDERINGS = frozenset({"<", "<=", ">", ">="})


class ConditionError(Exception):
    """A syntax error in a condition; ``column`` is 1-based within the expression.

    ``hint`` says what to write instead; it stays out of ``message`` so that the validator
    can show both the way it shows every problem (``message (hint)``, or apart in JSON).
    """

    def __init__(self, message: str, column: int, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.hint = hint

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
                message = f"unknown escape '\\{escaped}' in string"
                raise ConditionError(message, i + 1, "write \\\\ for a backslash")
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
        raise ConditionError(f"unknown word '{word}'", column, f"did you mean '{word.lower()}'?")
    hint = "field ids use lowercase letters, digits and '_'"
    raise ConditionError(f"invalid field id '{word}'", column, hint)


def _read_operator(source: str, start: int) -> tuple[_Token, int]:
    pair = source[start : start + 2]
    if pair in COMPARISONS:
        return _Token("op", pair, start + 1), start + 2
    for bad in (pair, source[start]):
        if bad in _BAD_OPERATORS:
            raise ConditionError(f"unknown operator '{bad}'", start + 1, _BAD_OPERATORS[bad])
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
            column = self.peek().column
            raise ConditionError("comparisons cannot be chained", column, "use 'and'")
        return result

    def negated_test(self, left: Expr) -> Expr:
        self.next()
        if self.is_keyword("in"):
            self.next()
            return Not(In(left, self.value_after("not in")))
        if self.is_keyword("empty"):
            column = self.tokens[self.pos - 1].column
            raise ConditionError(
                "expected 'in' after 'not'", column, "did you mean 'is not empty'?"
            )
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
        return ConditionError(message, token.column, expected)


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
    return frozenset().union(*(references(child) for child in children(expr)))


def children(expr: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of ``expr``."""
    if isinstance(expr, Compare):
        return (expr.left, expr.right)
    if isinstance(expr, In):
        return (expr.needle, expr.haystack)
    if isinstance(expr, IsEmpty | Not):
        return (expr.operand,)
    if isinstance(expr, And | Or):
        return expr.operands
    return ()
