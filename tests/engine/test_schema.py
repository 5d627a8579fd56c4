"""The JSON Schemas: the example pack validates, and each kind of error is worded exactly."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.schema import KINDS, check, combined_schema, is_valid, schema_for

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"
ROOT_FILES = {
    "portal.yaml": "portal",
    "document-types.yaml": "document_types",
    "services.yaml": "services",
    "agendas.yaml": "agendas",
}
FOLDERS = {"workflows": "workflow", "procedures": "procedure", "news": "news"}


class _Loader(yaml.SafeLoader):
    """Like the engine's loader: dates stay strings."""

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def load(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)


def example_files() -> list[tuple[Path, str]]:
    files = [(DEFINITIONS / name, kind) for name, kind in ROOT_FILES.items()]
    for folder, kind in FOLDERS.items():
        files += [(path, kind) for path in sorted((DEFINITIONS / folder).glob("*.yaml"))]
    return files


EXAMPLES = example_files()


def example(name: str) -> Any:
    return load(DEFINITIONS / "procedures" / f"{name}.yaml")


def problems(kind: str, data: object) -> list[tuple[str, str, str]]:
    return [(".".join(map(str, p.path)), p.message, p.hint) for p in check(kind, data, "f.yaml")]


# --- the schemas themselves ------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_a_valid_2020_12_schema(kind: str) -> None:
    schema = schema_for(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://guichet.example/schema/{kind}.json"


def test_combined_schema_accepts_every_kind_and_rejects_junk() -> None:
    combined = combined_schema()
    jsonschema.Draft202012Validator.check_schema(combined)
    validator = jsonschema.Draft202012Validator(combined)
    for path, _ in EXAMPLES:
        assert validator.is_valid(load(path)), path
    assert not validator.is_valid({"titel": "Démarche"})


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(KeyError, match="unknown kind 'procedures'"):
        schema_for("procedures")


def test_schema_for_returns_a_copy() -> None:
    schema_for("procedure")["properties"].clear()
    assert "title" in schema_for("procedure")["properties"]


# --- the example commune ---------------------------------------------------------------------


def test_example_pack_has_the_promised_files() -> None:
    assert len(list((DEFINITIONS / "procedures").glob("*.yaml"))) == 13
    kinds = [load(p).get("kind", "news") for p in (DEFINITIONS / "news").glob("*.yaml")]
    assert (kinds.count("news"), kinds.count("info")) == (6, 4)
    assert len(load(DEFINITIONS / "document-types.yaml")) == 9
    assert len(load(DEFINITIONS / "agendas.yaml")) == 2
    assert len(load(DEFINITIONS / "portal.yaml")["themes"]) == 5


@pytest.mark.parametrize(("path", "kind"), EXAMPLES, ids=[p.name for p, _ in EXAMPLES])
def test_example_file_validates(path: Path, kind: str) -> None:
    assert path.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema=")
    assert check(kind, load(path), str(path)) == []


def test_example_pack_uses_every_field_type() -> None:
    def types(fields: list[dict[str, Any]]) -> set[str]:
        found = {f["type"] for f in fields}
        for f in fields:
            found |= types(f.get("fields", []))
        return found

    used: set[str] = set()
    for path in (DEFINITIONS / "procedures").glob("*.yaml"):
        for step in load(path)["steps"]:
            used |= types(step["fields"])
    assert used == set(schema_for("procedure")["$defs"]["field"]["properties"]["type"]["enum"])


def _luminance(colour: str) -> float:
    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_example_colours_are_readable_on_white() -> None:
    for colour in load(DEFINITIONS / "portal.yaml")["colours"].values():
        assert 1.05 / (_luminance(colour) + 0.05) >= 4.5, colour


# --- exact messages --------------------------------------------------------------------------


def cantine() -> Any:
    return example("inscription-cantine")


def test_unknown_key_names_the_field_and_suggests_the_right_one() -> None:
    data = cantine()
    data["steps"][0]["fields"][0]["requierd"] = True
    assert problems("procedure", data) == [
        (
            "steps.0.fields.0.requierd",
            "unknown key 'requierd' in field 'nom'",
            "did you mean 'required'?",
        )
    ]


def test_unknown_key_at_top_level_and_in_a_step() -> None:
    data = cantine()
    data["titel"] = data.pop("title")
    data["steps"][1]["intro_text"] = "x"
    assert problems("procedure", data) == [
        ("steps.1.intro_text", "unknown key 'intro_text' in step 'repas'", "did you mean 'intro'?"),
        ("titel", "unknown key 'titel' in procedure", "did you mean 'title'?"),
    ]


def test_unknown_key_in_a_sub_mapping_without_close_match() -> None:
    data = cantine()
    data["quota"]["colour"] = "x"
    assert problems("procedure", data) == [("quota.colour", "unknown key 'colour' in 'quota'", "")]


def test_missing_required_key() -> None:
    data = cantine()
    del data["service"]
    assert problems("procedure", data) == [
        ("", "missing required key 'service' in procedure", ""),
    ]


def test_missing_key_in_a_document_is_numbered() -> None:
    data = cantine()
    data["documents"][1] = {"required": True}
    assert problems("procedure", data) == [
        ("documents.1", "missing required key 'type' in document 2", "")
    ]


def test_wrong_enum_value() -> None:
    data = cantine()
    data["appointment"] = {"mode": "sometimes"}
    assert problems("procedure", data) == [
        ("appointment.mode", "'sometimes' is not one of: none, optional, required", "")
    ]


def test_enum_typo_gets_a_hint() -> None:
    data = cantine()
    data["quota"]["per"] = "years"
    assert problems("procedure", data) == [
        (
            "quota.per",
            "'years' is not one of: total, year, month, week, day",
            "did you mean 'year'?",
        )
    ]


@pytest.mark.parametrize(
    ("path", "value", "hint"),
    [
        pytest.param(("appointment", "mode"), "optionnal", "did you mean 'optional'?", id="typo"),
        pytest.param(("appointment", "mode"), "Required", "did you mean 'required'?", id="case"),
        pytest.param(
            ("appointment", "mode"), "facultatif", "did you mean 'optional'?", id="french"
        ),
        pytest.param(("quota", "per"), "Année", "did you mean 'year'?", id="french-accent"),
        pytest.param(("quota", "scope"), "compte", "did you mean 'account'?", id="french-scope"),
        pytest.param(("appointment", "mode"), "sometimes", "", id="nothing-close"),
    ],
)
def test_enum_hint_names_the_closest_value(path: tuple[str, str], value: str, hint: str) -> None:
    data = cantine()
    data.setdefault(path[0], {})[path[1]] = value
    if path[0] == "appointment":
        data["appointment"].setdefault("agenda", "accueil")
    found = [p for p in problems("procedure", data) if p[0] == ".".join(path)]
    assert [(message.split(" is not one of")[0], h) for _, message, h in found] == [
        (f"'{value}'", hint)
    ]


def test_wrong_type_with_a_hint() -> None:
    data = cantine()
    data["keywords"] = "cantine"
    data["quota"]["max"] = "300"
    assert problems("procedure", data) == [
        ("keywords", "expected a list, got a string", "write [cantine]"),
        ("quota.max", "expected a whole number, got a string", "remove the quotes: 300"),
    ]


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("1e3", "write it in digits: 1000"),
        ("2E2", "write it in digits: 200"),
        ("1e400", "write the number in digits: YAML reads 1e3 as text"),
        ("1.5", "remove the quotes: 1.5"),
    ],
)
def test_exponent_numbers_read_as_text_get_a_digits_hint(value: str, hint: str) -> None:
    # YAML 1.1 reads 1e3 (no dot) as text even without quotes: "remove the quotes" would
    # send the admin looking for quotes that are not there.
    data = cantine()
    data["quota"]["max"] = value
    assert problems("procedure", data) == [
        ("quota.max", "expected a whole number, got a string", hint)
    ]


def test_boolean_read_by_yaml_where_text_is_expected() -> None:
    data = cantine()
    data["steps"][0]["fields"][0]["label"] = True
    assert problems("procedure", data) == [
        (
            "steps.0.fields.0.label",
            "expected a string, got true or false",
            "YAML reads yes/no/on/off/true/false as true or false: put the text in quotes",
        )
    ]


def test_empty_file() -> None:
    assert problems("procedure", None) == [
        ("", "expected a mapping, got nothing", "the file is empty")
    ]


def test_bad_ids() -> None:
    data = cantine()
    data["theme"] = "Enfance"
    data["steps"][0]["fields"][1]["id"] = "Prénom"
    assert problems("procedure", data) == [
        (
            "theme",
            "'Enfance' is not a valid id",
            "ids use lowercase letters, digits and hyphens: write 'enfance'",
        ),
        (
            "steps.0.fields.1.id",
            "'Prénom' is not a valid field id",
            "field ids start with a lowercase letter and use lowercase letters, digits and "
            "underscores: write 'prenom'",
        ),
    ]


def test_bad_mapping_id_points_at_the_key() -> None:
    assert problems("services", {"État civil": {"label": "État civil"}}) == [
        (
            "État civil",
            "'État civil' is not a valid id",
            "ids use lowercase letters, digits and hyphens: write 'etat-civil'",
        )
    ]


def test_bad_dates() -> None:
    data = cantine()
    data["open"]["until"] = "2026-7-15"
    assert problems("procedure", data) == [
        ("open.until", "'2026-7-15' is not a valid date", "write YYYY-MM-DD, e.g. 2026-05-01"),
    ]


def test_per_type_field_rules_are_left_to_the_cross_checks() -> None:
    # engine.crosscheck owns them (see test_crosscheck.py::test_per_type_field_rules): the
    # schema has no per-field `if`/`then`, so the fast validator never raises on valid fields.
    data = cantine()
    del data["steps"][1]["fields"][0]["choices"]
    data["steps"][0]["fields"][2]["max"] = "tomorrow"
    data["steps"][1]["fields"].append({"id": "titre", "type": "heading"})
    assert check("procedure", data, "f.yaml") == []


def test_group_inside_group_is_refused() -> None:
    data = example("inscription-periscolaire")
    data["steps"][0]["fields"][0]["fields"][0]["type"] = "group"
    (path, message, hint) = problems("procedure", data)[0]
    assert path == "steps.0.fields.0.fields.0.type"
    assert message.startswith("'group' is not one of: text, textarea,")
    assert hint == "a group cannot contain another group"


def test_choice_alternatives_report_the_matching_branch() -> None:
    data = cantine()
    data["steps"][1]["fields"][1]["choices"] = [{"value": "standard"}, 3]
    assert problems("procedure", data) == [
        (
            "steps.1.fields.1.choices.0",
            "missing required key 'label' in 'choices[0]' of field 'regime'",
            "",
        ),
        ("steps.1.fields.1.choices.1", "expected a string or a mapping, got a number", ""),
    ]


def test_appointment_needs_an_agenda_unless_none() -> None:
    data = cantine()
    data["appointment"] = {"mode": "required"}
    assert problems("procedure", data) == [
        ("appointment", "missing required key 'agenda' in 'appointment'", "")
    ]


def test_workflow_messages_name_states_and_transitions() -> None:
    data = load(DEFINITIONS / "workflows" / "default.yaml")
    data["states"]["recue"]["notify"] = {"subject": "Reçue"}
    data["transitions"][0]["by"] = "agent"
    data["transitions"][1]["too"] = data["transitions"][1].pop("to")
    data["transitions"][2].pop("label")
    assert problems("workflow", data) == [
        ("states.recue.notify", "missing required key 'body' in 'notify' of state 'recue'", ""),
        ("transitions.0.by", "expected a list, got a string", "write [agent]"),
        ("transitions.1.too", "unknown key 'too' in transition 'terminer'", "did you mean 'to'?"),
        ("transitions.2", "missing required key 'label' in transition 'refuser'", ""),
    ]


def test_agenda_messages() -> None:
    data = load(DEFINITIONS / "agendas.yaml")
    data["accueil-etat-civil"]["opening_hours"]["mondey"] = ["9:00-12:00"]
    data["relais-petite-enfance"]["opening_hours"]["tuesday"] = ["9:00-12:00"]
    data["relais-petite-enfance"]["capacity"] = 0
    assert problems("agendas", data) == [
        (
            "accueil-etat-civil.opening_hours.mondey",
            "unknown key 'mondey' in 'opening_hours' of agenda 'accueil-etat-civil'",
            "did you mean 'monday'?",
        ),
        ("relais-petite-enfance.capacity", "0 is less than the minimum of 1", ""),
        (
            "relais-petite-enfance.opening_hours.tuesday.0",
            "'9:00-12:00' is not a valid time range",
            "write HH:MM-HH:MM, e.g. 09:00-12:00",
        ),
    ]


def test_news_needs_a_date_but_info_does_not() -> None:
    news = {"title": "Travaux", "category": "Travaux", "body": "Texte"}
    assert problems("news", news) == [("", "missing required key 'date' in news item", "")]
    assert problems("news", {**news, "kind": "info"}) == []


def test_portal_messages() -> None:
    data = load(DEFINITIONS / "portal.yaml")
    data["colours"]["primary"] = "bleu"
    data["address"]["postal_code"] = 49730
    data["themes"][0] = {"id": "etat-civil"}
    assert problems("portal", data) == [
        ("address.postal_code", "expected a string, got a number", "put it in quotes: '49730'"),
        ("colours.primary", "'bleu' is not a valid colour", "write #rrggbb, e.g. #000091"),
        ("themes.0", "missing required key 'label' in theme 'etat-civil'", ""),
    ]


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("procedure", {"disabled": True}),
        ("workflow", {"disabled": True}),
        ("news", {"disabled": True}),
        ("services", {"accueil": {"disabled": True}}),
        ("portal", {"themes": [{"id": "enfance", "disabled": True}]}),
    ],
    ids=["procedure", "workflow", "news", "mapping-entry", "theme"],
)
def test_overlay_disable_needs_nothing_else(kind: str, data: object) -> None:
    assert check(kind, data, "overlay.yaml") == []


def test_check_fills_file_and_leaves_position_to_the_pipeline() -> None:
    data = cantine()
    data["titel"] = "x"
    (problem,) = check("procedure", data, "definitions/procedures/inscription-cantine.yaml")
    assert (problem.file, problem.line, problem.column) == (
        "definitions/procedures/inscription-cantine.yaml",
        0,
        0,
    )


def test_one_problem_per_real_problem() -> None:
    data = cantine()
    data["steps"][0]["fields"][0]["requierd"] = True
    data["steps"][0]["fields"][0]["hlep"] = "x"
    assert len(check("procedure", data, "f.yaml")) == 2


def test_valid_data_is_not_modified() -> None:
    data = cantine()
    before = copy.deepcopy(data)
    assert check("procedure", data, "f.yaml") == []
    assert data == before  # fastjsonschema must not fill in defaults


# --- the fast path agrees with jsonschema ----------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 500),
    st.sampled_from(["", "x", "Bad Id", "today", "2026-13-01", "09:00-12:00", "required"]),
)


def _mutations(data: Any) -> list[tuple[Any, ...]]:
    """Key paths of every node of `data`."""
    paths: list[tuple[Any, ...]] = [()]
    if isinstance(data, dict):
        for key, value in data.items():
            paths += [(key, *p) for p in _mutations(value)]
    elif isinstance(data, list):
        for index, value in enumerate(data):
            paths += [(index, *p) for p in _mutations(value)]
    return paths


def _replace(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    data[path[0]] = _replace(data[path[0]], path[1:], value)
    return data


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from([p.stem for p in (DEFINITIONS / "procedures").glob("*.yaml")]),
    choice=st.integers(min_value=0),
    value=_scalars,
    extra_key=st.booleans(),
)
def test_fast_path_agrees_with_jsonschema(
    name: str, choice: int, value: Any, extra_key: bool
) -> None:
    data = example(name)
    paths = _mutations(data)
    path = paths[choice % len(paths)]
    mutated = _replace(copy.deepcopy(data), path, value)
    if extra_key and isinstance(mutated, dict):
        mutated["cle_inconnue"] = 1
    slow = jsonschema.Draft202012Validator(schema_for("procedure")).is_valid(mutated)
    assert is_valid("procedure", mutated) == slow
    found = check("procedure", mutated, "f.yaml")
    assert (found == []) == slow
    assert all(p.message for p in found)


def test_valid_files_never_reach_the_detailed_validator(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.schema

    def refuse(kind: str) -> None:
        raise AssertionError(f"jsonschema used for a valid {kind}")

    monkeypatch.setattr(engine.schema, "_detailed_validator", refuse)
    for path, kind in EXAMPLES:
        assert check(kind, load(path), str(path)) == []


def test_unquoted_colour_in_block_form_reads_as_nothing() -> None:
    # `primary: #1f4e79` unquoted: YAML sees `primary:` and a comment
    data = {"name": "Ville", "colours": {"primary": None}}
    assert problems("portal", data) == [
        (
            "colours.primary",
            "expected a string, got nothing",
            "a # starts a comment: quote the colour",
        )
    ]
