"""JSON Schemas (draft 2020-12) of the definition files, and the schema check.

One schema per kind of file (see docs/format-v1.md). The schemas are written as Python dicts
with a description on every property: editors show them while admins type. Per-type field
rules (which keys apply to, or are required by, which field type; whether `min`/`max` are
numbers or date bounds) and references between files are cross-checks (``engine.crosscheck``),
not schema rules: the messages stay precise, and the fast validator needs no `if`/`then`
branch per field, each of which costs an exception on the happy path.

`check` runs a compiled fastjsonschema validator first: valid files (the common case) never
touch the slow `jsonschema` package. Only a file that fails is validated again with
`jsonschema`'s `iter_errors`, and each error becomes one `Problem` worded for municipal admins.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, get_args

import fastjsonschema

from engine.dates import calendar_problem
from engine.errors import KeyPath, Problem
from engine.model import FieldType

KINDS = ("portal", "document_types", "services", "agendas", "workflow", "procedure", "news")
SCHEMA_URL = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://guichet.example/schema/"

Schema = dict[str, Any]

ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
FIELD_ID_PATTERN = r"^[a-z][a-z0-9_]*$"
DATE_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
DATE_BOUND_PATTERN = (
    r"^(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"|today( [+-] [0-9]+ (day|days|month|months|year|years))?)$"
)
TIME_RANGE_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$"
COLOUR_PATTERN = r"^#[0-9a-fA-F]{6}$"

FIELD_TYPES: tuple[str, ...] = get_args(FieldType)
FILE_TYPES = ("pdf", "jpeg", "png", "gif", "webp", "heic", "odt", "docx")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


# --- building blocks -----------------------------------------------------------------------


def _s(description: str, **rules: Any) -> Schema:
    return {"description": description, **rules}


def _text(description: str) -> Schema:
    return _s(description, type="string", minLength=1)


def _bool(description: str, default: bool = False) -> Schema:
    return _s(description, type="boolean", default=default)


def _int(description: str, minimum: int, maximum: int | None = None, **extra: Any) -> Schema:
    rules: Schema = {"type": "integer", "minimum": minimum, **extra}
    if maximum is not None:
        rules["maximum"] = maximum
    return _s(description, **rules)


def _id(description: str) -> Schema:
    return _s(description, type="string", pattern=ID_PATTERN, maxLength=64)


def _date(description: str) -> Schema:
    return _s(description, type="string", pattern=DATE_PATTERN)


def _obj(properties: Schema, required: Iterable[str] = (), description: str = "") -> Schema:
    out: Schema = {"type": "object", "additionalProperties": False, "properties": properties}
    if description:
        out["description"] = description
    if required:
        out["required"] = list(required)
    return out


def _disableable(properties: Schema, required: list[str], description: str) -> Schema:
    """An item that an overlay may remove with `disabled: true` (nothing else is required)."""
    out = _obj(
        {**properties, "disabled": _bool("Overlay only: `true` removes this item.")},
        description=description,
    )
    out["if"] = {"properties": {"disabled": {"const": True}}, "required": ["disabled"]}
    out["else"] = {"required": required}
    return out


CONDITION = _text("Condition (e.g. `regime == 'PAI'`): the item is shown only when it is true.")
WINDOW = {
    "from": _date("First day (YYYY-MM-DD), included."),
    "until": _date("Last day (YYYY-MM-DD), included."),
}


# --- procedure -------------------------------------------------------------------------------


def _field(in_group: bool) -> Schema:
    types = [t for t in FIELD_TYPES if not (in_group and t == "group")]
    number_or_bound = "Number: lowest value (number), fewest ticks (multichoice) or rows (group)"
    properties: Schema = {
        "id": _s(
            "Field id (lowercase letters, digits, underscores); used in conditions.",
            type="string",
            pattern=FIELD_ID_PATTERN,
            maxLength=64,
        ),
        "type": _s("Field type.", enum=types),
        "label": _text("Label shown to the citizen (French)."),
        "help": _text("Help text under the label."),
        "required": _bool("The citizen must answer (a checkbox must be ticked)."),
        "visible_if": CONDITION,
        "min_length": _int("text, textarea: fewest characters.", 0),
        "max_length": _int("text, textarea: most characters.", 1),
        "pattern": _text("text: regular expression the whole answer must match."),
        "pattern_message": _text("text: French message shown when the pattern does not match."),
        "min": _s(f"{number_or_bound}; date: earliest date (YYYY-MM-DD, today, today - N years)."),
        "max": _s(f"{number_or_bound}; date: latest date (YYYY-MM-DD, today, today + N days)."),
        "integer": _bool("number: only whole numbers."),
        "choices": _s(
            "choice, multichoice: the options, as strings or {value, label}.",
            type="array",
            minItems=1,
            items={"$ref": "#/$defs/choice"},
        ),
        "display": _s("choice: radio buttons or a drop-down list.", enum=["radio", "select"]),
        "text": _text("heading, paragraph: the text shown."),
    }
    if not in_group:
        properties["fields"] = _s(
            "group: the sub-fields of one row (no group inside a group).",
            type="array",
            minItems=1,
            items={"$ref": "#/$defs/subfield"},
        )
        properties["add_label"] = _text("group: label of the button that adds a row.")
    return _obj(properties, ["id", "type"], "A form field.")


def _procedure() -> Schema:
    properties: Schema = {
        "id": _id("Procedure id; defaults to the file name."),
        "title": _text("Title of the procedure (French)."),
        "theme": _id("Theme id (declared in portal.yaml)."),
        "service": _id("Service that processes the requests (services.yaml)."),
        "summary": _text("One or two sentences shown in the catalogue."),
        "keywords": _s(
            "Search words.",
            type="array",
            items={"type": "string", "minLength": 1},
            uniqueItems=True,
        ),
        "help": _text('Help for filling in the form ("aide à la saisie"), Markdown.'),
        "max_duration": _text('How long filling in takes, e.g. "10 minutes".'),
        "access": _obj(
            {
                "requires_account": _bool("Only citizens logged in to their space (the padlock)."),
                "activation_key": _bool("Only accounts activated with a key from the town hall."),
                "family_only": _bool("Only for a family member declared in the account."),
            },
            description="Who may file the procedure.",
        ),
        "open": _obj(WINDOW, description="Opening window; outside it the procedure is closed."),
        "quota": _obj(
            {
                "max": _int("Most requests per period.", 1),
                "per": _s("Period.", enum=["total", "year", "month", "week", "day"]),
                "scope": _s(
                    "Counted for the whole portal or per account.", enum=["portal", "account"]
                ),
                "message": _text("French message shown when the quota is reached."),
            },
            ["max"],
            "Limit on the number of requests.",
        ),
        "appointment": _obj(
            {
                "mode": _s("Appointment step.", enum=["none", "optional", "required"]),
                "agenda": _id("Agenda id (agendas.yaml); required unless mode is none."),
            },
            description="Appointment booked with the request.",
        ),
        "exchanges": _obj(
            {
                "enabled": _bool("Messages between the citizen and the town hall."),
                "citizen_can_start": _bool("The citizen may write first."),
            },
            description="Exchanges (messages) on a request.",
        ),
        "documents": _s(
            "Supporting documents (pièces justificatives).",
            type="array",
            items=_obj(
                {
                    "type": _id("Document type id (document-types.yaml)."),
                    "required": _bool("The citizen must provide it."),
                    "visible_if": CONDITION,
                    "help": _text("Extra help for this procedure."),
                },
                ["type"],
                "A supporting document.",
            ),
        ),
        "steps": _s(
            "Pages of the form, in order.",
            type="array",
            minItems=1,
            items=_obj(
                {
                    "id": _id("Step id."),
                    "title": _text("Title of the page."),
                    "intro": _text("Text shown above the fields."),
                    "visible_if": CONDITION,
                    "fields": _s(
                        "Fields.", type="array", minItems=1, items={"$ref": "#/$defs/field"}
                    ),
                },
                ["id", "title", "fields"],
                "A page of the form.",
            ),
        ),
        "workflow": _id("Workflow id (workflows/); default: default."),
        "acknowledgement": _text("Text of the acknowledgement (email and confirmation page)."),
    }
    out = _disableable(properties, ["title", "theme", "service", "steps"], "A procedure.")
    appointment = out["properties"]["appointment"]
    appointment["if"] = {
        "properties": {"mode": {"enum": ["optional", "required"]}},
        "required": ["mode"],
    }
    appointment["then"] = {"required": ["agenda"]}
    return out


# --- the other kinds -----------------------------------------------------------------------


def _portal() -> Schema:
    theme = _disableable(
        {
            "id": _id("Theme id."),
            "label": _text("Label (French)."),
            "icon": _s("Icon name.", type="string"),
            "order": _int("Position in lists (smaller first).", -1000, 1000),
        },
        ["id", "label"],
        "A theme of the catalogue.",
    )
    theme["required"] = ["id"]
    return _obj(
        {
            "name": _text("Name of the commune as displayed."),
            "address": _obj(
                {
                    "street": _text("Street."),
                    "postal_code": _s("Postal code.", type="string", pattern=r"^\d{5}$"),
                    "city": _text("City."),
                },
                description="Address of the town hall.",
            ),
            "contact": _obj(
                {
                    "email": _text("Email address."),
                    "phone": _text("Phone number."),
                    "hours": _text("Opening hours, as text."),
                    "website": _text("Website address."),
                },
                description="Contact of the town hall.",
            ),
            "logo": _text("Path of the logo, relative to the pack folder."),
            "colours": _obj(
                {
                    "primary": _s("Main colour (#rrggbb).", type="string", pattern=COLOUR_PATTERN),
                    "secondary": _s(
                        "Accent colour (#rrggbb).", type="string", pattern=COLOUR_PATTERN
                    ),
                },
                description="Colours of the portal.",
            ),
            "welcome": _text("Welcome text of the home page, Markdown."),
            "themes": _s("Themes of the catalogue.", type="array", items=theme),
            "featured": _s(
                "Procedures featured on the home page.", type="array", items=_id("Procedure id.")
            ),
            "limits": _obj(
                {
                    "storage_pieces": _int("Pieces in a citizen's personal storage.", 1, 50),
                    "files_per_piece": _int("Files per piece.", 1, 4),
                    "max_file_size_mb": _int("Largest file, in MB.", 1, 100),
                    "accepted_types": {"$ref": "#/$defs/file_types"},
                },
                description="Upload and storage limits.",
            ),
        },
        description="Identity and settings of the portal.",
    )


def _mapping(item: Schema, description: str) -> Schema:
    return {
        "type": "object",
        "description": description,
        "propertyNames": {"pattern": ID_PATTERN, "maxLength": 64},
        "additionalProperties": item,
    }


def _document_types() -> Schema:
    item = _disableable(
        {
            "label": _text("Label (French)."),
            "help": _text("Help shown to the citizen."),
            "max_files": _int("Most files for one piece.", 1, 4),
            "accepted_types": {"$ref": "#/$defs/file_types"},
        },
        ["label"],
        "A document type.",
    )
    return _mapping(item, "Document types by id.")


def _services() -> Schema:
    item = _disableable(
        {"label": _text("Name of the service."), "email": _text("Email of the service.")},
        ["label"],
        "A service of the town hall.",
    )
    return _mapping(item, "Services by id.")


def _agendas() -> Schema:
    ranges = _s(
        'Opening ranges of the day, "HH:MM-HH:MM".',
        type="array",
        items={"type": "string", "pattern": TIME_RANGE_PATTERN},
    )
    item = _disableable(
        {
            "label": _text("Name of the agenda."),
            "place": _text("Where the appointment takes place."),
            "slot_minutes": _int("Length of a slot, in minutes.", 5, 240),
            "capacity": _int("Citizens per slot.", 1, 100),
            "opening_hours": _obj(
                {day: ranges for day in WEEKDAYS}, description="Weekly opening hours."
            ),
            "closed_dates": _s("Closed days.", type="array", items={"$ref": "#/$defs/date"}),
            "book_ahead_days": _int("How many days ahead one can book.", 1, 365),
            "min_notice_hours": _int("How many hours before a slot booking closes.", 0, 720),
        },
        ["label", "opening_hours"],
        "An appointment agenda.",
    )
    return _mapping(item, "Agendas by id.")


def _workflow() -> Schema:
    state = _obj(
        {
            "label": _text("Status label the citizen reads."),
            "citizen_can_cancel": _bool("The citizen may cancel the request in this state."),
            "final": _bool("The request is closed in this state."),
            "notify": _obj(
                {"subject": _text("Email subject."), "body": _text("Email body.")},
                ["subject", "body"],
                "Email to the citizen when the request enters this state.",
            ),
        },
        ["label"],
        "A state.",
    )
    transition = _obj(
        {
            "id": _id("Transition id."),
            "label": _text("Button label."),
            "from": _s(
                "State(s) the transition starts from.",
                anyOf=[{"$ref": "#/$defs/id"}, {"type": "array", "items": {"$ref": "#/$defs/id"}}],
            ),
            "to": _id("State reached."),
            "by": _s(
                "Who may trigger it.",
                type="array",
                items={"enum": ["agent", "citizen", "system"]},
                minItems=1,
            ),
        },
        ["id", "label", "from", "to"],
        "A transition.",
    )
    return _disableable(
        {
            "label": _text("Name of the workflow."),
            "initial": _id("State of a new request."),
            "cancel_to": _id("Final state reached when the citizen cancels."),
            "states": {
                **_mapping(state, "States by id, in display order."),
                "minProperties": 1,
            },
            "transitions": _s("Transitions.", type="array", items=transition),
        },
        ["label", "initial", "states"],
        "A workflow.",
    )


def _news() -> Schema:
    out = _disableable(
        {
            "kind": _s("news, or info for a practical-information page.", enum=["news", "info"]),
            "title": _text("Title."),
            "category": _text("Category (French), used to group items."),
            "body": _text("Text, Markdown."),
            "date": _date("Date of the news item (YYYY-MM-DD); required for news."),
            "public": _bool("false: only citizens logged in to their space see it.", True),
            "publish": _obj(WINDOW, description="Publication window."),
            "summary": _text("Short summary for lists."),
        },
        ["title", "category", "body"],
        "A news item or a practical-information page.",
    )
    out["else"]["if"] = {"properties": {"kind": {"const": "info"}}, "required": ["kind"]}
    out["else"]["else"] = {"required": ["date"]}
    return out


SHARED_DEFS: Schema = {
    "id": {"type": "string", "pattern": ID_PATTERN, "maxLength": 64},
    "date": {"type": "string", "pattern": DATE_PATTERN},
    "file_types": _s(
        "Accepted file types.", type="array", items={"enum": list(FILE_TYPES)}, uniqueItems=True
    ),
    "choice": {
        "anyOf": [
            {"type": "string", "minLength": 1},
            _obj(
                {"value": _text("Stored value."), "label": _text("Label shown.")},
                ["value", "label"],
                "An option with a label different from its value.",
            ),
        ]
    },
    "field": _field(in_group=False),
    "subfield": _field(in_group=True),
}

_BUILDERS: dict[str, Callable[[], Schema]] = {
    "portal": _portal,
    "document_types": _document_types,
    "services": _services,
    "agendas": _agendas,
    "workflow": _workflow,
    "procedure": _procedure,
    "news": _news,
}
_BODIES: dict[str, Schema] = {kind: _BUILDERS[kind]() for kind in KINDS}


def schema_for(kind: str) -> dict[str, Any]:
    """The standalone JSON Schema document of one kind of definition file."""
    if kind not in _BODIES:
        raise KeyError(f"unknown kind '{kind}' (kinds: {', '.join(KINDS)})")
    return {
        "$schema": SCHEMA_URL,
        "$id": f"{BASE_ID}{kind}.json",
        "title": f"Guichet {kind.replace('_', ' ')}",
        **copy.deepcopy(_BODIES[kind]),
        "$defs": copy.deepcopy(SHARED_DEFS),
    }


def combined_schema() -> dict[str, Any]:
    """One schema accepting any definition file (for editors): `$defs` per kind, `anyOf`."""
    defs = copy.deepcopy(SHARED_DEFS)
    for kind in KINDS:
        defs[kind] = copy.deepcopy(_BODIES[kind])
    return {
        "$schema": SCHEMA_URL,
        "$id": f"{BASE_ID}guichet.json",
        "title": "Guichet definition file",
        "anyOf": [{"$ref": f"#/$defs/{kind}"} for kind in KINDS],
        "$defs": defs,
    }


# --- checking ------------------------------------------------------------------------------

_FAST: dict[str, Callable[[Any], Any]] = {}
_DETAILED: dict[str, Any] = {}


def _fast_validator(kind: str) -> Callable[[Any], Any]:
    validator = _FAST.get(kind)
    if validator is None:
        # use_default=False: fastjsonschema would otherwise write defaults into the data.
        inlined = _inline_refs(schema_for(kind))
        validator = _FAST[kind] = fastjsonschema.compile(inlined, use_default=False)
    return validator


def _inline_refs(document: Schema) -> Schema:
    """The schema with every `{"$ref": "#/$defs/x"}` replaced by `x` itself (none is recursive).

    fastjsonschema calls a function per `$ref`, and names the item it passes with
    `str.format(**locals())` even when nothing fails: inlined, a field costs a third less.
    """
    defs: Schema = document.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if len(node) == 1 and isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items() if key != "$defs"}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return dict(inline(document))


def _detailed_validator(kind: str) -> Any:
    validator = _DETAILED.get(kind)
    if validator is None:
        # Imported here: valid packs never pay for loading jsonschema.
        import jsonschema  # type: ignore[import-untyped]

        validator = _DETAILED[kind] = jsonschema.Draft202012Validator(schema_for(kind))
    return validator


def is_valid(kind: str, data: object) -> bool:
    """Fast validity test (fastjsonschema only)."""
    try:
        _fast_validator(kind)(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def check(kind: str, data: object, file: str) -> list[Problem]:
    """Problems of one definition file of `kind`; `[]` when the file is valid.

    Valid data only runs the compiled fast validator. Problems carry `path` (the key path of
    the offending node; for an unknown key, the key itself) and leave line and column at 0:
    the pipeline locates them by re-reading the failing file with marks.
    """
    return check_with_scopes(kind, data, file)[0]


# A missing key is reported at its container, but only the key is broken: the scope of the
# problem is this pseudo-key under the container, so the container's other parts stay usable.
MISSING = "\x00missing"


def check_with_scopes(kind: str, data: object, file: str) -> tuple[list[Problem], list[KeyPath]]:
    """`check`, and the key path of the part each problem makes unusable for cross-checks."""
    if is_valid(kind, data):
        dates = calendar_problems(kind, data, file)
        return dates, [p.path for p in dates]
    from engine.schema_messages import explain

    seen: set[tuple[KeyPath, str]] = set()
    problems: list[Problem] = []
    scopes: list[KeyPath] = []
    for error in _detailed_validator(kind).iter_errors(data):
        for path, message, hint in explain(kind, data, error):
            scopes.append((*path, MISSING) if error.validator == "required" else path)
            if (path, message) not in seen:
                seen.add((path, message))
                problems.append(Problem(file, 0, 0, message, path, hint))
    # Strings of the date pattern passed it: whether their day exists is still unknown.
    dates = calendar_problems(kind, data, file)
    problems += dates
    scopes += (p.path for p in dates)
    return sorted(problems, key=lambda p: _document_order(data, p.path)), scopes


# --- calendar dates ----------------------------------------------------------------------------

# In a date path, the step that stands for every item of a list or every value of a mapping.
EVERY = "\x00every"
_DATE_SHAPE = re.compile(DATE_PATTERN)
_DATE_PATHS: dict[str, list[KeyPath]] = {}


def date_paths(kind: str) -> list[KeyPath]:
    """The key paths (with ``EVERY`` for any item) where the schema of ``kind`` wants a date."""
    paths = _DATE_PATHS.get(kind)
    if paths is None:
        found: dict[KeyPath, None] = {}
        _find_dates(_inline_refs(schema_for(kind)), (), found)
        paths = _DATE_PATHS[kind] = list(found)
    return paths


def _find_dates(node: Any, path: KeyPath, found: dict[KeyPath, None]) -> None:
    if not isinstance(node, dict):
        return
    if node.get("pattern") == DATE_PATTERN:
        found[path] = None
    for key, sub in (node.get("properties") or {}).items():
        _find_dates(sub, (*path, key), found)
    for key in ("items", "additionalProperties"):
        _find_dates(node.get(key), (*path, EVERY), found)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key) or []:
            _find_dates(sub, path, found)
    for key in ("if", "then", "else"):
        _find_dates(node.get(key), path, found)


def calendar_problems(kind: str, data: object, file: str) -> list[Problem]:
    """A problem for every string of ``data`` that the schema wants as a date and that has the
    form YYYY-MM-DD but names no real day (`2026-02-30`). Only the schema's date paths are
    visited: a procedure costs a lookup or two.
    """
    out: list[Problem] = []
    for date_path in date_paths(kind):
        for path, value in _at(data, date_path, ()):
            if isinstance(value, str) and _DATE_SHAPE.match(value):
                wrong = calendar_problem(value)
                if wrong is not None:
                    out.append(Problem(file, 0, 0, wrong[0], path, wrong[1]))
    return out


def _at(node: object, rest: KeyPath, path: KeyPath) -> Iterator[tuple[KeyPath, object]]:
    """(path, value) of every node of ``node`` at ``rest``."""
    if not rest:
        yield path, node
        return
    step, tail = rest[0], rest[1:]
    if step == EVERY:
        if isinstance(node, dict):
            for key, child in node.items():
                yield from _at(child, tail, (*path, key))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                yield from _at(child, tail, (*path, index))
    elif isinstance(node, dict) and step in node:
        yield from _at(node[step], tail, (*path, step))


def _document_order(data: object, path: KeyPath) -> tuple[int, ...]:
    """Position of `path` in the file (mappings keep the YAML key order), for stable output."""
    order: list[int] = []
    node = data
    for part in path:
        if isinstance(node, dict) and part in node:
            order.append(list(node).index(part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            order.append(part)
            node = node[part]
        else:
            break
    return tuple(order)
