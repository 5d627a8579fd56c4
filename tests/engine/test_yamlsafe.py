"""Safe YAML loading: tags, alias bombs, size, duplicates, syntax errors, dates, locate."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import DefinitionErrors
from engine.yamlsafe import load_yaml, locate, locate_value

BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""
ALIAS_HINT = "definitions do not need anchors and aliases (&, *): write the values out"


def load_error(tmp_path: Path, text: str | bytes, **kwargs: int) -> str:
    path = tmp_path / "f.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(DefinitionErrors) as info:
        load_yaml(path, "f.yaml", **kwargs)
    assert len(info.value.problems) == 1
    return info.value.problems[0].format()


def test_dates_stay_strings_and_values_load(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("open: {from: 2026-05-01}\nmax: 3\nok: true\n", encoding="utf-8")
    assert load_yaml(path, "ok.yaml") == {"open": {"from": "2026-05-01"}, "max": 3, "ok": True}


def test_empty_file_is_none(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing\n", encoding="utf-8")
    assert load_yaml(path, "empty.yaml") is None


def test_python_tag_is_rejected(tmp_path: Path) -> None:
    text = "title: x\nrun: !!python/object/apply:os.system ['touch /tmp/guichet-pwned']\n"
    assert load_error(tmp_path, text) == (
        "f.yaml:2:6: error: unsupported tag '!!python/object/apply:os.system' "
        "(only plain YAML values are allowed: remove the tag)"
    )


def test_custom_tag_is_rejected(tmp_path: Path) -> None:
    assert load_error(tmp_path, "a: !secret x\n").startswith(
        "f.yaml:1:4: error: unsupported tag '!secret'"
    )


def test_billion_laughs_is_rejected_with_the_alias_message(tmp_path: Path) -> None:
    assert load_error(tmp_path, BILLION_LAUGHS) == (
        f"f.yaml:6:4: error: YAML aliases expand to more than 100000 nodes ({ALIAS_HINT})"
    )


def test_many_aliases_are_rejected(tmp_path: Path) -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * 101) + "]\n"
    assert load_error(tmp_path, text) == (
        # the position is that of the anchor: aliases are the anchored node itself
        f"f.yaml:1:4: error: more than 100 YAML aliases ({ALIAS_HINT})"
    )


def test_recursive_alias_is_rejected(tmp_path: Path) -> None:
    assert load_error(tmp_path, "a: &a [1, *a]\n") == (
        f"f.yaml:1:4: error: a YAML alias refers to itself ({ALIAS_HINT})"
    )


def test_a_few_aliases_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("a: &a [1, 2]\nb: *a\n", encoding="utf-8")
    assert load_yaml(path, "ok.yaml") == {"a": [1, 2], "b": [1, 2]}


def test_oversize_file_is_rejected_before_reading(tmp_path: Path) -> None:
    text = "a: " + "x" * 3000 + "\n"
    assert load_error(tmp_path, text, max_bytes=2048) == (
        "f.yaml: error: file is 3 KiB, more than the limit of 2 KiB (split it into smaller files)"
    )


def test_duplicate_key_is_reported_at_the_second_one(tmp_path: Path) -> None:
    text = "steps:\n  - id: a\n    title: A\n    id: b\n"
    assert load_error(tmp_path, text) == (
        "f.yaml:4:5: error: duplicate key 'id' "
        "(each key may appear once in a mapping; remove or rename one of them)"
    )


def test_tab_indentation(tmp_path: Path) -> None:
    assert load_error(tmp_path, "a:\n\tb: 1\n") == (
        "f.yaml:2:1: error: invalid YAML: found character that cannot start any token "
        "while scanning for the next token (indent with spaces, not tabs)"
    )


def test_unclosed_quote_points_at_the_quote(tmp_path: Path) -> None:
    assert load_error(tmp_path, 'title: x\nlabel: "Nom\nhelp: y\n') == (
        "f.yaml:2:8: error: invalid YAML: found unexpected end of stream "
        "while scanning a quoted scalar (a quote is not closed)"
    )


def test_bad_indentation(tmp_path: Path) -> None:
    assert load_error(tmp_path, "title: x\n  label: y\n") == (
        "f.yaml:2:8: error: invalid YAML: mapping values are not allowed in this context "
        "(check the indentation, or quote a value that contains ': ')"
    )


def test_not_utf8(tmp_path: Path) -> None:
    assert load_error(tmp_path, "title: \xe9t\xe9\n".encode("latin-1")) == (
        "f.yaml:1: error: file is not valid UTF-8 (save it as UTF-8)".replace(":1:", ":1:1:")
    )


def test_locate_keys_items_and_missing_paths(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "title: T\nsteps:\n  - id: a\n    fields:\n      - {id: nom, requierd: true}\n",
        encoding="utf-8",
    )
    assert locate(path, ("title",)) == (1, 1)
    assert locate(path, ("steps", 0)) == (3, 5)
    assert locate(path, ("steps", 0, "fields", 0, "requierd")) == (5, 19)
    assert locate(path, ("steps", 0, "nothing", 3)) == (3, 5)
    assert locate(path, ()) == (1, 1)


def test_locate_value_of_quoted_and_plain_scalars(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text('a: "x == 1"\nb: x == 1\nc: >\n  x\n', encoding="utf-8")
    assert locate_value(path, ("a",)) == (1, 4, 1)
    assert locate_value(path, ("b",)) == (2, 4, 0)
    assert locate_value(path, ("c",))[2] == -1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "name: Ville\ncolours: {primary: #1f4e79, secondary: '#b34700'}\nthemes: []\n",
            "f.yaml:2:20: error: invalid YAML: did not find expected ',' or '}' while parsing "
            'a flow mapping (a # starts a comment in YAML: quote the colour, "#1f4e79")',
            id="inside-the-flow",
        ),
        pytest.param(
            # the parser only fails at the end of the file: the line shown is the colour's
            "name: Ville\ncolours: {primary: #1f4e79}\n",
            "f.yaml:2:20: error: invalid YAML: did not find expected node content while parsing "
            'a flow node (a # starts a comment in YAML: quote the colour, "#1f4e79")',
            id="at-the-end-of-the-file",
        ),
        pytest.param(
            "steps: [{id: a, label: #1}]\n",
            "f.yaml:1:24: error: invalid YAML: did not find expected node content while parsing "
            'a flow node (a # starts a comment in YAML: quote the value, "#1")',
            id="not-a-colour",
        ),
    ],
)
def test_unquoted_hash_in_braces(tmp_path: Path, text: str, expected: str) -> None:
    assert load_error(tmp_path, text) == expected


def test_a_comment_after_a_colon_elsewhere_is_not_blamed(tmp_path: Path) -> None:
    message = load_error(tmp_path, "a: # a real comment\n  b: 1\nc: [1, 2\n")
    assert "starts a comment" not in message


def test_an_overlong_integer_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    # Past 4300 digits, int() itself raises ValueError inside PyYAML's constructor.
    assert load_error(tmp_path, "a: 1\nmax: -" + "9" * 5000 + "\n") == (
        "f.yaml:2:6: error: number of 5000 digits is too long "
        "(write at most 100 digits, or quote it to make it a text)"
    )


def test_long_but_sane_integers_load(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(f"max: {10**99}\nmin: -0x1f\n", encoding="utf-8")
    assert load_yaml(path, "ok.yaml") == {"max": 10**99, "min": -31}
