"""The condition language: syntax, errors with columns, static checks, evaluation, JSON."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.conditions import (
    And,
    Compare,
    ConditionError,
    FieldInfo,
    In,
    IsEmpty,
    ListLit,
    Literal,
    Name,
    Not,
    Or,
    check,
    evaluate,
    parse,
    references,
    to_js,
)

# --- parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("regime", Name("regime")),
        ("regime == 'PAI'", Compare("==", Name("regime"), Literal("PAI"))),
        ('regime != "PAI"', Compare("!=", Name("regime"), Literal("PAI"))),
        ("age >= 18", Compare(">=", Name("age"), Literal(18))),
        ("age < 3.5", Compare("<", Name("age"), Literal(3.5))),
        ("coche == true", Compare("==", Name("coche"), Literal(True))),
        ("coche == false", Compare("==", Name("coche"), Literal(False))),
        ("'PAI' in options", In(Literal("PAI"), Name("options"))),
        ("x not in ['a', 2]", Not(In(Name("x"), ListLit((Literal("a"), Literal(2)))))),
        ("x in []", In(Name("x"), ListLit(()))),
        ("x is empty", IsEmpty(Name("x"))),
        ("x is not empty", Not(IsEmpty(Name("x")))),
        ("not x", Not(Name("x"))),
        ("not not x", Not(Not(Name("x")))),
        ("not x == 1", Not(Compare("==", Name("x"), Literal(1)))),
        ("a and b and c", And((Name("a"), Name("b"), Name("c")))),
        ("a or b and c", Or((Name("a"), And((Name("b"), Name("c")))))),
        ("a and b or c", Or((And((Name("a"), Name("b"))), Name("c")))),
        ("not a and b", And((Not(Name("a")), Name("b")))),
        ("(a or b) and c", And((Or((Name("a"), Name("b"))), Name("c")))),
        ("not (a or b)", Not(Or((Name("a"), Name("b"))))),
        ("(((a)))", Name("a")),
        ("  a\n  and\tb  ", And((Name("a"), Name("b")))),
        ("nom_2 == 'l\\'été'", Compare("==", Name("nom_2"), Literal("l'été"))),
        ('nom == "dit \\"Jo\\""', Compare("==", Name("nom"), Literal('dit "Jo"'))),
        ("nom == 'a\\\\b'", Compare("==", Name("nom"), Literal("a\\b"))),
        ('nom == "l\'été"', Compare("==", Name("nom"), Literal("l'été"))),
        ("andre or order", Or((Name("andre"), Name("order")))),
    ],
)
def test_parse(source: str, expected: object) -> None:
    assert parse(source) == expected


def test_integer_and_decimal_literals_keep_their_type() -> None:
    assert parse("a == 12") == Compare("==", Name("a"), Literal(12))
    literal = parse("a == 12").right  # type: ignore[union-attr]
    assert isinstance(literal, Literal) and type(literal.value) is int
    assert type(parse("a == 1.5").right.value) is float  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("source", "message", "column"),
    [
        ("regime ==", "expected a value after '=='", 10),
        ("regime == )", "expected a value after '=='", 11),
        ("age >= and b", "expected a value after '>='", 8),
        ("x in", "expected a value after 'in'", 5),
        ("x not in", "expected a value after 'not in'", 9),
        ("regime == 'PAI", "unclosed string", 11),
        ('regime == "PAI', "unclosed string", 11),
        ("regime == 'PAI\\", "unclosed string", 11),
        ("a)", "unexpected ')'", 2),
        ("(a))", "unexpected ')'", 4),
        (")", "unexpected ')'", 1),
        ("regime = 'PAI'", "unknown operator '=' (did you mean '=='?)", 8),
        ("a =< 2", "unknown operator '=<' (did you mean '<='?)", 3),
        ("a => 2", "unknown operator '=>' (did you mean '>='?)", 3),
        ("a <> 2", "unknown operator '<>' (did you mean '!='?)", 3),
        ("a && b", "unknown operator '&&' (use 'and')", 3),
        ("a || b", "unknown operator '||' (use 'or')", 3),
        ("a & b", "unknown operator '&' (use 'and')", 3),
        ("!a", "unknown operator '!' (use 'not')", 1),
        ("and a", "'and' needs a condition on both sides", 1),
        ("a and", "'and' needs a condition on both sides", 3),
        ("a and or b", "'and' needs a condition on both sides", 3),
        ("(a and) or b", "'and' needs a condition on both sides", 4),
        ("a or", "'or' needs a condition on both sides", 3),
        ("or a", "'or' needs a condition on both sides", 1),
        ("", "empty condition", 1),
        ("   ", "empty condition", 1),
        ("not", "expected a condition after 'not'", 4),
        ("a and not", "expected a condition after 'not'", 10),
        ("(a", "unclosed '('", 1),
        ("x == (a or b", "unclosed '('", 6),
        ("(a b)", "unexpected 'b' (expected 'and', 'or' or ')')", 4),
        ("x in ['a'", "unclosed '['", 6),
        ("x in ['a',", "unclosed '['", 6),
        ("x in ['a',]", "expected a value after ','", 11),
        ("x in ['a' 'b']", "unexpected 'b' (expected ',' or ']')", 11),
        ("x in [y]", "a list holds only values, not the field 'y'", 7),
        ("x in [(1)]", "a list holds only strings, numbers, true or false", 7),
        ("a b", "unexpected 'b' (expected 'and', 'or' or the end of the condition)", 3),
        ("a == 'x' 'y'", "unexpected 'y' (expected 'and', 'or' or the end of the condition)", 10),
        ("a == 1 == 2", "comparisons cannot be chained (use 'and')", 8),
        ("a not empty", "expected 'in' after 'not' (did you mean 'is not empty'?)", 3),
        ("a not b", "expected 'in' after 'not'", 7),
        ("a is", "expected 'empty' after 'is'", 5),
        ("a is not 'x'", "expected 'empty' after 'is not'", 10),
        ("a == in", "expected a value after '=='", 6),
        ("in", "unexpected 'in'", 1),
        (
            "Regime == 'x'",
            "invalid field id 'Regime' (field ids use lowercase letters, digits and '_')",
            1,
        ),
        (
            "régime == 'x'",
            "invalid field id 'régime' (field ids use lowercase letters, digits and '_')",
            1,
        ),
        ("_x", "invalid field id '_x' (field ids use lowercase letters, digits and '_')", 1),
        ("a == True", "unknown word 'True' (did you mean 'true'?)", 6),
        ("a AND b", "unknown word 'AND' (did you mean 'and'?)", 3),
        ("a == 12ab", "invalid number '12ab'", 6),
        ("a == 1.", "invalid number '1.'", 6),
        ("a == 1.2.3", "invalid number '1.2.3'", 6),
        ("a == $", "unexpected character '$'", 6),
        ("a == -1", "unexpected character '-'", 6),
        ("nom == 'a\\qb'", "unknown escape '\\q' in string (write \\\\ for a backslash)", 10),
    ],
)
def test_syntax_errors(source: str, message: str, column: int) -> None:
    """``message`` as the validator shows it: the error's message, then its hint in brackets."""
    with pytest.raises(ConditionError) as caught:
        parse(source)
    error = caught.value
    shown = f"{error.message} ({error.hint})" if error.hint else error.message
    assert (shown, error.column) == (message, column)
    assert str(error) == error.message
    # What to write instead is the hint, never folded into the message.
    assert "did you mean" not in error.message and ";" not in error.message


def test_too_long_and_too_deep() -> None:
    with pytest.raises(ConditionError, match=r"^condition is too long \(at most 2000"):
        parse("a or " * 500 + "a")
    with pytest.raises(ConditionError, match=r"^condition is nested too deeply$") as caught:
        parse("(" * 60 + "a" + ")" * 60)
    assert caught.value.column == 41
    with pytest.raises(ConditionError, match=r"^condition is nested too deeply$"):
        parse("not " * 60 + "a")
    assert parse("(" * 40 + "a" + ")" * 40) == Name("a")


def test_parse_is_cached() -> None:
    assert parse("regime == 'cache'") is parse("regime == 'cache'")


@given(st.text(max_size=60))
@settings(max_examples=400)
def test_parse_never_raises_anything_but_condition_error(source: str) -> None:
    try:
        parse(source)
    except ConditionError as error:
        assert 1 <= error.column <= len(source) + 1
        assert error.message


TOKENS = [
    "a", "b", "x", "==", "!=", "<", ">=", "and", "or", "not", "in", "is", "empty", "(", ")",
    "[", "]", ",", "'s'", '"t"', "12", "3.5", "true", "false", "=", "&&", "'",
]  # fmt: skip


@given(st.lists(st.sampled_from(TOKENS), max_size=12))
@settings(max_examples=400)
def test_token_soup_parses_or_fails_cleanly(tokens: list[str]) -> None:
    source = " ".join(tokens)
    try:
        parse(source)
    except ConditionError as error:
        assert 1 <= error.column <= len(source) + 1


def test_references() -> None:
    expr = parse("not (a == b) and 'x' in c or d is empty or e not in [1] or f")
    assert references(expr) == frozenset({"a", "b", "c", "d", "e", "f"})
    assert references(parse("'x' == 1")) == frozenset()


# --- static checks -----------------------------------------------------------------------

FIELDS = {
    "regime": FieldInfo("string", ("standard", "sans porc", "végétarien", "PAI")),
    "nom": FieldInfo("string"),
    "age": FieldInfo("number"),
    "naissance": FieldInfo("date"),
    "coche": FieldInfo("boolean"),
    "options": FieldInfo("list", frozenset({"PAI", "bio", "allergie"})),
    "adresse": FieldInfo("address"),
}
CHOICES = "(choices: standard, sans porc, végétarien, PAI)"


@pytest.mark.parametrize(
    "source",
    [
        "regime == 'PAI' and age >= 3",
        "regime in ['PAI', 'standard']",
        "regime != 'sans porc'",
        "'PAI' in options and 'bio' not in options",
        "options == ['PAI', 'bio']",
        "naissance >= '2020-02-29'",
        "'2020-01-01' < naissance",
        "coche or not coche == false",
        "nom and nom != 'x' and nom < 'm'",
        "adresse is not empty and adresse",
        "age in [1, 2.5]",
        "(age > 3) == true",
        "true",
    ],
)
def test_check_accepts(source: str) -> None:
    assert check(parse(source), FIELDS) == []


@pytest.mark.parametrize(
    ("source", "problems"),
    [
        ("regme == 'PAI'", ["unknown field 'regme' (did you mean 'regime'?)"]),
        ("zzz", ["unknown field 'zzz'"]),
        ("zzz == 1 and zzz", ["unknown field 'zzz'"]),
        ("age == 'douze'", ["cannot compare field 'age' (number) with 'douze' (text)"]),
        ("'douze' == age", ["cannot compare 'douze' (text) with field 'age' (number)"]),
        ("age > nom", ["cannot compare field 'age' (number) with field 'nom' (text)"]),
        ("coche == 1", ["cannot compare field 'coche' (boolean) with 1 (number)"]),
        ("naissance > nom", ["cannot compare field 'naissance' (date) with field 'nom' (text)"]),
        ("naissance == 3", ["cannot compare field 'naissance' (date) with 3 (number)"]),
        ("adresse == 'x'", ["cannot compare field 'adresse' (address) with 'x' (text)"]),
        ("coche < true", ["cannot use '<' with field 'coche' (boolean)"]),
        ("options >= ['PAI']", ["cannot use '>=' with field 'options' (list)"]),
        ("regime == 'vegetarien'", [f"'vegetarien' is not a choice of field 'regime' {CHOICES}"]),
        ("'végétarien' != regime", []),
        ("regime in ['PAI', 'pai']", [f"'pai' is not a choice of field 'regime' {CHOICES}"]),
        ("regime not in ['x']", [f"'x' is not a choice of field 'regime' {CHOICES}"]),
        (
            "'PIA' in options",
            ["'PIA' is not a choice of field 'options' (choices: PAI, allergie, bio)"],
        ),
        (
            "options == ['PAI', 'bi']",
            ["'bi' is not a choice of field 'options' (choices: PAI, allergie, bio)"],
        ),
        (
            "options in ['PAI']",
            ["field 'options' (list) cannot be in a list (write 'PAI' in options)"],
        ),
        ("age in ['a']", ["cannot compare field 'age' (number) with 'a' (text)"]),
        ("age in options", ["cannot look for field 'age' (number) in field 'options' (list)"]),
        ("'x' in nom", ["'in' needs a list on its right, not field 'nom' (text)"]),
        ("naissance > '2026-13-01'", ["'2026-13-01' is not a date (expected YYYY-MM-DD)"]),
        ("naissance == '2025-02-29'", ["'2025-02-29' is not a date (expected YYYY-MM-DD)"]),
        ("naissance in ['1/2/2026']", ["'1/2/2026' is not a date (expected YYYY-MM-DD)"]),
        ("'PAI'", ["'PAI' is not a condition"]),
        ("coche and 3", ["3 is not a condition"]),
        ("not ['a']", ["['a'] is not a condition"]),
        (
            "regme == 'x' or age == 'y'",
            [
                "unknown field 'regme' (did you mean 'regime'?)",
                "cannot compare field 'age' (number) with 'y' (text)",
            ],
        ),
    ],
)
def test_check_reports(source: str, problems: list[str]) -> None:
    assert check(parse(source), FIELDS) == problems


# --- evaluation --------------------------------------------------------------------------

VALUES: dict[str, object] = {
    "regime": "PAI",
    "nom": "Dupont",
    "blanc": "   ",
    "age": 12,
    "age_txt": "12",
    "virgule": "3,5",
    "naissance": "2020-05-01",
    "coche": True,
    "decoche": False,
    "options": ["PAI", "bio"],
    "aucune": [],
    "adresse": {"street": "1 rue", "postal_code": "41000", "city": "Belval"},
    "vide": {},
    "enfants": [{"prenom": "Léa"}],
    "rien": None,
    "zero": 0,
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # bare names: not empty; booleans are themselves
        ("regime", True),
        ("coche", True),
        ("decoche", False),
        ("absent", False),
        ("rien", False),
        ("blanc", False),
        ("aucune", False),
        ("vide", False),
        ("options", True),
        ("adresse", True),
        ("enfants", True),
        ("zero", True),
        # equality
        ("regime == 'PAI'", True),
        ("regime == 'pai'", False),
        ("regime != 'PAI'", False),
        ("regime != 'x'", True),
        ("age == 12", True),
        ("age == 12.0", True),
        ("age_txt == 12", True),
        ("age_txt > 11.5", True),
        ("virgule == 3.5", True),
        ("nom == 12", False),
        ("nom != 12", True),
        ("nom < 12", False),
        ("age == '12'", True),
        ("options == ['bio', 'PAI']", True),
        ("options == ['PAI']", False),
        ("adresse == 'x'", False),
        # empties: comparisons false, != true
        ("absent == 'x'", False),
        ("absent != 'x'", True),
        ("blanc == '   '", False),
        ("absent < 3", False),
        ("absent >= 3", False),
        ("rien == rien", False),
        ("aucune == []", False),
        # booleans compare by truth, so a missing checkbox equals false
        ("coche == true", True),
        ("decoche == false", True),
        ("absent == false", True),
        ("absent != true", True),
        ("coche != true", False),
        ("coche < true", False),
        # ordering
        ("age > 3", True),
        ("age <= 12", True),
        ("age < 12", False),
        ("age >= 13", False),
        ("naissance >= '2020-05-01'", True),
        ("naissance < '2020-04-30'", False),
        ("naissance > '2019-12-31'", True),
        ("options > ['a']", False),
        ("nom < 'E'", True),
        # membership
        ("regime in ['PAI', 'standard']", True),
        ("regime in ['standard']", False),
        ("regime not in ['standard']", True),
        ("'PAI' in options", True),
        ("'PAI' in aucune", False),
        ("'PAI' in absent", False),
        ("'PAI' not in absent", True),
        ("absent in ['a']", False),
        ("absent not in ['a']", True),
        ("age in [1, 12]", True),
        ("age_txt in [12]", True),
        ("options in [['PAI']]" if False else "options in ['PAI']", False),
        ("'Dup' in nom", False),
        # emptiness
        ("absent is empty", True),
        ("blanc is empty", True),
        ("vide is empty", True),
        ("aucune is empty", True),
        ("zero is empty", False),
        ("decoche is empty", False),
        ("options is not empty", True),
        # connectives and precedence
        ("not regime == 'PAI'", False),
        ("absent or coche", True),
        ("coche and absent", False),
        ("decoche and absent or coche", True),
        ("decoche and (absent or coche)", False),
        ("not decoche and not absent", True),
        ("(age > 3) == true", True),
        # constants
        ("true", True),
        ("false", False),
        ("'x'", True),
        ("''", False),
    ],
)
def test_evaluate(source: str, expected: bool) -> None:
    assert evaluate(parse(source), VALUES) is expected


EXPRESSIONS = [
    "a",
    "a == b",
    "a != b",
    "a < b",
    "a >= 12",
    "a == 'x'",
    "a == true",
    "a in b",
    "'x' in a",
    "a in ['x', 1, true]",
    "a not in [2.5]",
    "a is empty",
    "a is not empty",
    "not a and b or a == 3",
    "(a < '2026-01-01') != (b > 0)",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(["12", "3,5", " 7 ", "2026-01-01", "x", ""])
)
ANY_VALUE = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)
VALUE_MAPS = st.dictionaries(st.sampled_from(["a", "b"]), ANY_VALUE)


@given(st.sampled_from(EXPRESSIONS), VALUE_MAPS)
@settings(max_examples=600)
def test_evaluate_is_total(source: str, values: dict[str, object]) -> None:
    assert isinstance(evaluate(parse(source), values), bool)


# --- the JSON tree for the browser -------------------------------------------------------


def test_to_js_shape() -> None:
    tree = to_js(parse("not (regime == 'PAI' and 'bio' in options) or age is not empty"))
    assert tree == {
        "op": "or",
        "args": [
            {
                "op": "not",
                "args": [
                    {
                        "op": "and",
                        "args": [
                            {
                                "op": "==",
                                "args": [
                                    {"op": "field", "id": "regime"},
                                    {"op": "value", "value": "PAI"},
                                ],
                            },
                            {
                                "op": "in",
                                "args": [
                                    {"op": "value", "value": "bio"},
                                    {"op": "field", "id": "options"},
                                ],
                            },
                        ],
                    }
                ],
            },
            {"op": "not", "args": [{"op": "empty", "args": [{"op": "field", "id": "age"}]}]},
        ],
    }
    assert to_js(parse("x in [1, 'a', false]")) == {
        "op": "in",
        "args": [{"op": "field", "id": "x"}, {"op": "list", "items": [1, "a", False]}],
    }


def test_to_js_is_json() -> None:
    import json

    tree = to_js(parse("a == 'é' and b in [1.5, true] or not c is empty"))
    assert json.loads(json.dumps(tree)) == tree


def _js_value(node: dict[str, object], values: dict[str, object]) -> object:
    """A reference reading of the JSON tree, written from the module docstring alone."""
    op = node["op"]
    if op == "field":
        return values.get(str(node["id"]))
    if op == "value":
        return node["value"]
    if op == "list":
        return node["items"]
    return _js_truth(node, values)


def _empty(v: object) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "") or v in ([], {}, ())


def _num(v: object) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        import re

        if re.fullmatch(r"\s*[+-]?[0-9]{1,20}([.,][0-9]{1,20})?\s*", v):
            return float(v.replace(",", "."))
    return None


def _same(a: object, b: object, deep: bool = True) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return _truth_of(a) == _truth_of(b)
    if _empty(a) or _empty(b):
        return False
    if (isinstance(a, int | float)) or (isinstance(b, int | float)):
        x, y = _num(a), _num(b)
        return x is not None and y is not None and x == y
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if deep and isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return all(any(_same(x, y, False) for y in b) for x in a) and all(
            any(_same(y, x, False) for x in a) for y in b
        )
    return False


def _truth_of(v: object) -> bool:
    return v if isinstance(v, bool) else not _empty(v)


def _js_truth(node: dict[str, object], values: dict[str, object]) -> bool:
    op = node["op"]
    args = node.get("args", [])
    assert isinstance(args, list)
    if op in ("field", "value", "list"):
        return _truth_of(_js_value(node, values))
    if op == "not":
        return not _js_truth(args[0], values)
    if op == "and":
        return all(_js_truth(a, values) for a in args)
    if op == "or":
        return any(_js_truth(a, values) for a in args)
    if op == "empty":
        return _empty(_js_value(args[0], values))
    left, right = (_js_value(a, values) for a in args)
    if op == "in":
        if _empty(left) or isinstance(left, list | tuple | dict):
            return False
        return isinstance(right, list | tuple) and any(_same(left, r, False) for r in right)
    if op == "==":
        return _same(left, right)
    if op == "!=":
        return not _same(left, right)
    if isinstance(left, bool) or isinstance(right, bool) or _empty(left) or _empty(right):
        return False
    if isinstance(left, int | float) or isinstance(right, int | float):
        x, y = _num(left), _num(right)
        if x is None or y is None:
            return False
    elif isinstance(left, str) and isinstance(right, str):
        x, y = left, right  # type: ignore[assignment]
    else:
        return False
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[str(op)]  # type: ignore[operator]


@given(st.sampled_from(EXPRESSIONS), VALUE_MAPS)
@settings(max_examples=600)
def test_json_tree_means_the_same(source: str, values: dict[str, object]) -> None:
    expr = parse(source)
    assert _js_truth(to_js(expr), values) == evaluate(expr, values)


@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=10), st.data())
@settings(max_examples=600)
def test_any_parsed_expression_is_total_and_its_json_agrees(
    tokens: list[str], data: st.DataObject
) -> None:
    try:
        expr = parse(" ".join(tokens))
    except ConditionError:
        return
    values = data.draw(st.dictionaries(st.sampled_from(["a", "b", "x"]), ANY_VALUE))
    result = evaluate(expr, values)
    assert isinstance(result, bool)
    assert _js_truth(to_js(expr), values) == result
