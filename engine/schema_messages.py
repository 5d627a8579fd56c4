"""Wording of schema errors: turns `jsonschema` errors into messages for municipal admins.

Only files that fail the fast check reach this module (engine.schema imports it lazily), so
it favours clear messages over speed. Each message names the container the admin recognises
("in field 'nom'", "in step 'enfant'", "in document 2") and, where it can, a hint.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from engine.errors import KeyPath
from engine.layers import MAPPING_ITEM_KIND
from engine.schema import (
    COLOUR_PATTERN,
    DATE_BOUND_PATTERN,
    DATE_PATTERN,
    FIELD_ID_PATTERN,
    ID_PATTERN,
    TIME_RANGE_PATTERN,
)

Explained = tuple[KeyPath, str, str]

_ROOTS = {
    "portal": "portal",
    "document_types": "document types",
    "services": "services",
    "agendas": "agendas",
    "workflow": "workflow",
    "procedure": "procedure",
    "news": "news item",
}
_EXPECTED = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing",
}
_ID_RULE = "lowercase letters, digits and hyphens, e.g. 'acte-naissance'"
_PATTERNS: dict[str, tuple[str, str]] = {
    ID_PATTERN: ("is not a valid id", f"ids use {_ID_RULE}"),
    FIELD_ID_PATTERN: (
        "is not a valid field id",
        "field ids start with a lowercase letter and use lowercase letters, digits and "
        "underscores, e.g. 'date_naissance'",
    ),
    DATE_PATTERN: ("is not a valid date", "write YYYY-MM-DD, e.g. 2026-05-01"),
    DATE_BOUND_PATTERN: (
        "is not a valid date bound",
        "write YYYY-MM-DD, today, or a relative date such as 'today - 18 years'",
    ),
    TIME_RANGE_PATTERN: ("is not a valid time range", "write HH:MM-HH:MM, e.g. 09:00-12:00"),
    COLOUR_PATTERN: ("is not a valid colour", "write #rrggbb, e.g. #000091"),
    r"^\d{5}$": ("is not a valid postal code", "write five digits, e.g. 49000"),
}


def _got(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _show(value: object) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def _child(node: object, segment: str | int) -> object:
    if isinstance(node, dict):
        return node.get(segment)
    if isinstance(node, list) and isinstance(segment, int) and segment < len(node):
        return node[segment]
    return None


def _named(kind: str, parents: KeyPath, segment: str | int, node: object) -> str:
    """The name of a container the admin recognises ("field 'nom'"), or '' if it has none."""
    prev = parents[-1] if parents else None
    node_id = node.get("id") if isinstance(node, dict) else None
    shown = f"'{node_id}'" if isinstance(node_id, str) else ""
    number = segment + 1 if isinstance(segment, int) else segment
    if kind in MAPPING_ITEM_KIND and not parents:
        return f"{MAPPING_ITEM_KIND[kind]} '{segment}'"
    if kind == "workflow" and parents == ("states",):
        return f"state '{segment}'"
    if isinstance(segment, int):
        for key, noun in (("steps", "step"), ("fields", "field"), ("themes", "theme")):
            if prev == key:
                return f"{noun} {shown or number}"
        if prev == "transitions":
            return f"transition {shown or number}"
        if prev == "documents":
            return f"document {number}"
    return ""


def _where(kind: str, data: object, path: KeyPath) -> str:
    """'in field 'nom'', 'in 'quota'', 'in procedure'... for the container at `path`."""
    root = _ROOTS[kind]
    label, node = root, data
    tail: list[str | int] = []
    for index, segment in enumerate(path):
        node = _child(node, segment)
        name = _named(kind, path[:index], segment, node)
        if name:
            label, tail = name, []
        else:
            tail.append(segment)
    if not tail:
        return f"in {label}"
    inner = ".".join(str(s) if isinstance(s, str) else f"[{s}]" for s in tail).replace(".[", "[")
    return f"in '{inner}'" if label == root else f"in '{inner}' of {label}"


def _with_suggestion(hint: str, pattern: str, value: object) -> str:
    """For a bad id, replace the hint's example with the id the admin probably meant."""
    if pattern not in (ID_PATTERN, FIELD_ID_PATTERN) or not isinstance(value, str):
        return hint
    plain = "".join(c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c))
    words = re.findall(r"[a-z0-9]+", plain.lower())
    suggestion = ("-" if pattern == ID_PATTERN else "_").join(words)
    if suggestion and suggestion != value and re.match(pattern, suggestion):
        return f"{hint.split(', e.g.')[0]}: write '{suggestion}'"
    return hint


def _close(word: object, options: Iterable[str]) -> str:
    if not isinstance(word, str):
        return ""
    found = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean '{found[0]}'?" if found else ""


# French words admins type for the English values of enums, and the value they mean.
_FRENCH_VALUES = {
    "aucun": "none",
    "aucune": "none",
    "facultatif": "optional",
    "optionnel": "optional",
    "obligatoire": "required",
    "requis": "required",
    "an": "year",
    "annee": "year",
    "mois": "month",
    "semaine": "week",
    "jour": "day",
    "compte": "account",
    "portail": "portal",
    "liste": "select",
    "actualite": "news",
    "texte": "text",
    "nombre": "number",
    "adresse": "address",
    "case": "checkbox",
    "titre": "heading",
    "paragraphe": "paragraph",
    "groupe": "group",
    "courriel": "email",
    "telephone": "phone",
    "citoyen": "citizen",
    "systeme": "system",
}


def _close_value(value: object, options: list[str]) -> str:
    """The hint for a value outside an enum: the allowed value it most likely meant, if any
    (case aside, a typo, or the French word for it).
    """
    if not isinstance(value, str):
        return ""
    lowered = value.strip().lower()
    plain = "".join(
        c for c in unicodedata.normalize("NFKD", lowered) if not unicodedata.combining(c)
    )
    for candidate in (lowered, _FRENCH_VALUES.get(plain)):
        if candidate in options:
            return f"did you mean '{candidate}'?"
    return _close(lowered, options)


_EXPONENT = re.compile(r"[-+]?[0-9]+[eE][-+]?[0-9]+")


def _type_hint(expected: str, value: object) -> str:
    if value is None:
        return "write a value after the colon, or remove the key"
    if expected == "array" and isinstance(value, str):
        items = ", ".join(part.strip() for part in value.split(",") if part.strip())
        return f"write [{items}]"
    if expected in ("integer", "number") and isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            return ""
        if _EXPONENT.fullmatch(text):
            # YAML 1.1 reads 1e3 as text whether it is quoted or not.
            if math.isfinite(number) and number.is_integer() and abs(number) < 1e15:
                return f"write it in digits: {int(number)}"
            return "write the number in digits: YAML reads 1e3 as text"
        return f"remove the quotes: {text}"
    if expected == "integer" and isinstance(value, float):
        return "write a whole number"
    if expected == "string" and isinstance(value, bool):
        return "YAML reads yes/no/on/off/true/false as true or false: put the text in quotes"
    if expected == "string" and isinstance(value, int | float):
        return f"put it in quotes: '{value}'"
    if expected == "boolean":
        return "write true or false, without quotes"
    return ""


def explain(kind: str, data: object, error: Any) -> list[Explained]:
    path: KeyPath = tuple(error.absolute_path)
    validator, value, instance = error.validator, error.validator_value, error.instance
    if "propertyNames" in error.relative_schema_path:
        hint = _with_suggestion(f"ids use {_ID_RULE}", ID_PATTERN, instance)
        return [((*path, instance), f"{_show(instance)} is not a valid id", hint)]
    where = _where(kind, data, path)
    if validator == "additionalProperties" and value is False:
        allowed = error.schema.get("properties", {})
        return [
            ((*path, key), f"unknown key '{key}' {where}", _close(key, allowed))
            for key in instance
            if key not in allowed
        ]
    if validator == "required" and isinstance(instance, dict):
        # A misspelt key is reported once, as unknown with "did you mean": not missing too.
        typos = [k for k in instance if isinstance(k, str) and k not in value]
        return [
            (path, f"missing required key '{key}' {where}", "")
            for key in value
            if key not in instance and not difflib.get_close_matches(key, typos, n=1, cutoff=0.6)
        ]
    if validator == "anyOf":
        return _explain_any_of(kind, data, error)
    return [_explain_value(path, validator, value, instance)]


def wrong_type(expected: str, value: object) -> tuple[str, str]:
    """Message and hint for ``value`` where a JSON Schema type ``expected`` was wanted."""
    wanted = _EXPECTED.get(expected, expected)
    return f"expected {wanted}, got {_got(value)}", _type_hint(expected, value)


def wrong_form(pattern: str, value: object) -> tuple[str, str]:
    """Message and hint for a string ``value`` that does not match ``pattern``."""
    noun, hint = _PATTERNS.get(pattern, ("does not match the expected form", ""))
    return f"{_show(value)} {noun}", _with_suggestion(hint, pattern, value)


def _explain_value(path: KeyPath, validator: str, value: Any, instance: Any) -> Explained:
    key = next((p for p in reversed(path) if isinstance(p, str)), "value")
    if validator == "type":
        expected = value if isinstance(value, str) else value[0]
        if not path and instance is None:
            return path, wrong_type(expected, instance)[0], "the file is empty"
        if instance is None and path[-2:-1] == ("colours",):
            # `primary: #1f4e79` unquoted: YAML reads a comment, so the key holds nothing.
            return path, wrong_type(expected, instance)[0], "a # starts a comment: quote the colour"
        return (path, *wrong_type(expected, instance))
    if validator == "enum":
        options = [str(v) for v in value]
        hint = _close_value(instance, options)
        if instance == "group":
            hint = "a group cannot contain another group"
        return path, f"{_show(instance)} is not one of: {', '.join(options)}", hint
    if validator == "pattern":
        return (path, *wrong_form(value, instance))
    messages: dict[str, str] = {
        "minLength": f"'{key}' must not be empty",
        "maxLength": f"'{key}' is longer than {value} characters",
        "minimum": f"{_show(instance)} is less than the minimum of {value}",
        "maximum": f"{_show(instance)} is more than the maximum of {value}",
        "minItems": f"'{key}' needs at least {value} item{'s' if value != 1 else ''}",
        "minProperties": f"'{key}' needs at least {value} entr{'ies' if value != 1 else 'y'}",
        "uniqueItems": f"'{key}' holds the same item twice",
    }
    if validator in messages:
        return path, messages[validator], ""
    return path, f"{_show(instance)} is not valid here ({validator})", ""


def _explain_any_of(kind: str, data: object, error: Any) -> list[Explained]:
    """Report the alternative whose type matched; else say which types were expected."""
    by_branch: dict[int, list[Any]] = {}
    for sub in error.context or ():
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    expected: list[str] = []
    for branch in by_branch.values():
        type_errors = [e for e in branch if e.validator == "type" and not e.relative_path]
        if not type_errors:
            return [item for sub in branch for item in explain(kind, data, sub)]
        value = type_errors[0].validator_value
        expected.append(_EXPECTED.get(value, str(value)) if isinstance(value, str) else str(value))
    path: KeyPath = tuple(error.absolute_path)
    wanted = " or ".join(dict.fromkeys(expected))
    return [(path, f"expected {wanted}, got {_got(error.instance)}", "")]
