"""Pack-wide checks, asserted on the exact `file:line:col: error: message (hint)` lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.packs import Pack

PROC = "pack/procedures/acte-naissance.yaml"


@pytest.fixture
def pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pack:
    monkeypatch.chdir(tmp_path)
    return Pack(tmp_path)


def procedure(pack: Pack, steps: str, head: str = "") -> None:
    """Write pack/procedures/acte-naissance.yaml: 4 header lines, then `head`, then steps."""
    text = "title: Acte\ntheme: etat-civil\nservice: etat-civil\n" + head + "steps:\n" + steps
    pack.write("procedures/acte-naissance.yaml", text)


def test_the_minimal_pack_is_valid(pack: Pack) -> None:
    assert pack.problems() == []


def test_unknown_key_with_did_you_mean(pack: Pack) -> None:
    procedure(
        pack,
        """\
  - id: acte
    title: L'acte
    fields:
      - id: nom
        type: text
        label: Nom
        requierd: true
""",
    )
    assert pack.problems() == [
        f"{PROC}:11:9: error: unknown key 'requierd' in field 'nom' (did you mean 'required'?)"
    ]


ONE_STEP = """\
  - id: acte
    title: L'acte
    fields:
      - {id: nom, type: text, label: Nom}
"""


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        pytest.param(
            "workflow: defaut\n",
            "4:1: error: unknown workflow 'defaut' (did you mean 'default'?)",
            id="workflow",
        ),
        pytest.param(
            "appointment: {mode: required, agenda: acceuil}\n",
            "4:31: error: unknown agenda 'acceuil' (did you mean 'accueil'?)",
            id="agenda",
        ),
        pytest.param(
            "documents:\n  - {type: livret-famille}\n",
            "5:6: error: unknown document type 'livret-famille' "
            "(declare it in document-types.yaml)",
            id="document-type",
        ),
        pytest.param(
            "appointment: {mode: none, agenda: accueil}\n",
            "4:27: error: an agenda is given but the appointment mode is 'none' "
            "(set mode: optional or required, or remove agenda)",
            id="agenda-without-appointment",
        ),
        pytest.param(
            "quota: {max: 3, scope: account}\n",
            "4:17: error: quota scope 'account' needs an account "
            "(add `access: {requires_account: true}` or use scope: portal)",
            id="quota-scope",
        ),
        pytest.param(
            "open: {from: 2026-07-01, until: 2026-05-01}\n",
            "4:26: error: the opening date must be before the closing date "
            "(swap the dates: from 2026-07-01, until 2026-05-01)",
            id="window",
        ),
        pytest.param(
            "open: {from: 2026-05-01, until: 2025-07-15}\n",
            "4:26: error: the opening date must be before the closing date "
            "(check the years: from 2026-05-01, until 2025-07-15)",
            id="window-year-typo",
        ),
    ],
)
def test_procedure_level_checks(pack: Pack, head: str, expected: str) -> None:
    procedure(pack, ONE_STEP, head)
    assert pack.problems() == [f"{PROC}:{expected}"]


def test_unknown_theme_and_service(pack: Pack) -> None:
    pack.write(
        "procedures/acte-naissance.yaml",
        "title: Acte\ntheme: etat-civi\nservice: urbanisme\nsteps:\n" + ONE_STEP,
    )
    assert pack.problems() == [
        f"{PROC}:2:1: error: unknown theme 'etat-civi' (did you mean 'etat-civil'?)",
        f"{PROC}:3:1: error: unknown service 'urbanisme' (declare it in services.yaml)",
    ]


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        pytest.param(
            "{id: nom, type: text, label: Nom, choices: [a, b]}",
            "8:43: error: 'choices' does not apply to a field of type 'text' "
            "(it applies to: choice, multichoice)",
            id="key-of-other-type",
        ),
        pytest.param(
            "{id: nom, type: text, label: Nom, min_length: 5, max_length: 2}",
            "8:58: error: min_length (5) is greater than max_length (2) "
            "(swap min_length and max_length)",
            id="length-bounds",
        ),
    ],
)
def test_field_checks(pack: Pack, field: str, expected: str) -> None:
    procedure(pack, f"  - id: acte\n    title: L'acte\n    fields:\n      - {field}\n")
    assert pack.problems() == [f"{PROC}:{expected}"]


STEP_HEAD = "  - id: acte\n    title: L'acte\n    fields:\n"
HINT_LATER = "a condition may only read what the citizen already answered"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            "{id: b, type: text, label: B, pattern: '[0-9'}",
            [
                "8:39: error: pattern does not compile: unterminated character set at position 0 "
                "(patterns are Python regular expressions; escape special characters with \\)"
            ],
            id="pattern",
        ),
        pytest.param(
            "{id: c, type: date, label: C, min: today, max: today - 18 years}",
            [
                "8:51: error: date bound min (today) is after max (today - 18 years) "
                "(swap min and max)"
            ],
            id="relative-dates",
        ),
        pytest.param(
            "{id: d, type: date, label: D, min: 2026-05-01, max: 2026-01-01}",
            [
                "8:56: error: date bound min (2026-05-01) is after max (2026-01-01) "
                "(swap min and max)"
            ],
            id="absolute-dates",
        ),
        pytest.param(
            "{id: e, type: number, label: E, min: 10, max: 1}",
            ["8:50: error: min (10) is greater than max (1) (swap min and max)"],
            id="number-bounds",
        ),
        pytest.param(
            "{id: f, type: heading, text: Titre, label: Non}",
            [
                "8:45: error: 'label' does not apply to a field of type 'heading' "
                "(a heading or paragraph shows `text:` only)"
            ],
            id="heading-label",
        ),
        pytest.param(
            "{id: g, type: choice, label: G, choices: [x, y, x]}",
            ["8:57: error: choice 'x' is listed twice"],
            id="duplicate-choice",
        ),
        pytest.param(
            "{id: h, type: group, label: H, min: 3, max: 2, fields: "
            "[{id: i, type: text, label: I}, {id: i, type: text, label: I}]}",
            [
                "8:48: error: min (3) is greater than max (2) (swap min and max)",
                "8:97: error: field id 'i' is used twice in group 'h'",
            ],
            id="group",
        ),
        pytest.param(
            "{id: a, type: text, label: A}\n      - {id: a, type: text, label: A2}",
            [
                "9:10: error: field id 'a' is already used in step 'acte' "
                "(field ids must be unique in a procedure)"
            ],
            id="duplicate-field-id",
        ),
        pytest.param(
            "{id: n, type: number, label: N}\n"
            "      - {id: m, type: text, label: M, visible_if: \"n > 'douze'\"}",
            ["9:39: error: condition: cannot compare field 'n' (number) with 'douze' (text)"],
            id="condition-type-mismatch",
        ),
        pytest.param(
            "{id: n, type: checkbox, label: N}\n"
            '      - {id: m, type: text, label: M, visible_if: "n < 3"}',
            ["9:39: error: condition: cannot use '<' with field 'n' (boolean)"],
            id="condition-ordering-boolean",
        ),
        pytest.param(
            "{id: envoi, type: choice, label: E, choices: [courrier, guichet]}\n"
            "      - {id: motif, type: text, label: M, visible_if: \"envoi == == 'x'\"}\n"
            "      - id: autre\n"
            "        type: text\n"
            "        label: Autre\n"
            "        visible_if: envoi = 'guichet'",
            # columns inside the condition are mapped to the file: the second '==' and '='
            [
                "9:65: error: invalid condition: expected a value after '=='",
                "13:27: error: invalid condition: unknown operator '=' (did you mean '=='?)",
            ],
            id="condition-syntax",
        ),
        pytest.param(
            "{id: envoi, type: choice, label: E, choices: [courrier, guichet]}\n"
            "      - {id: motif, type: text, label: M, visible_if: \"evnoi == 'courrier'\"}\n"
            "      - {id: trois, type: text, label: T, visible_if: \"envoi == 'fax'\"}",
            [
                "9:43: error: condition refers to unknown field 'evnoi' (did you mean 'envoi'?)",
                "10:43: error: condition: 'fax' is not a choice of field 'envoi' "
                "(choices: courrier, guichet)",
            ],
            id="condition-unknown-field-and-choice",
        ),
        pytest.param(
            "{id: a, type: text, label: A, visible_if: \"b == 'x'\"}\n"
            '      - {id: b, type: text, label: B, visible_if: "c is empty"}\n'
            '      - {id: c, type: text, label: C, visible_if: "a is not empty"}\n'
            '      - {id: d, type: text, label: D, visible_if: "d is empty"}',
            [
                "8:39: error: conditions form a cycle: a -> b -> c -> a "
                "(a field cannot depend on a field that depends on it)",
                "11:39: error: condition of field 'd' refers to itself "
                "(a field cannot hide itself)",
            ],
            id="condition-cycle",
        ),
    ],
)
def test_field_and_condition_checks(pack: Pack, fields: str, expected: list[str]) -> None:
    procedure(pack, STEP_HEAD + "      - " + fields + "\n")
    assert pack.problems() == [f"{PROC}:{e}" for e in expected]


BOUND_HINT = "write YYYY-MM-DD, today, or a relative date such as 'today - 18 years'"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            "{id: nom, type: text}",
            ["8:9: error: missing required key 'label' in field 'nom'"],
            id="label",
        ),
        pytest.param(
            "{id: titre, type: heading}",
            ["8:9: error: missing required key 'text' in field 'titre'"],
            id="heading-text",
        ),
        pytest.param(
            "{id: jours, type: multichoice}",
            [
                "8:9: error: missing required key 'choices' in field 'jours'",
                "8:9: error: missing required key 'label' in field 'jours'",
            ],
            id="choices-and-label",
        ),
        pytest.param(
            "{id: envoi, type: choice, label: E}\n"
            "      - {id: motif, type: text, label: M, visible_if: \"envoi == 'fax'\"}",
            # the condition is not checked against choices that are not there
            ["8:9: error: missing required key 'choices' in field 'envoi'"],
            id="choices-missing-under-a-condition",
        ),
        pytest.param(
            "{id: enfants, type: group, label: Enfants}",
            ["8:9: error: missing required key 'fields' in field 'enfants'"],
            id="group-fields",
        ),
        pytest.param(
            "{id: enfants, type: group, label: E, fields: [{id: prenom, type: text}]}",
            ["8:55: error: missing required key 'label' in field 'prenom'"],
            id="sub-field-label",
        ),
        pytest.param(
            "{id: c, type: date, label: C, min: today, max: tomorrow}",
            [f"8:51: error: 'tomorrow' is not a valid date bound ({BOUND_HINT})"],
            id="date-bound",
        ),
        pytest.param(
            "{id: c, type: date, label: C, min: 18}",
            ["8:39: error: expected a string, got a number (put it in quotes: '18')"],
            id="date-bound-number",
        ),
        pytest.param(
            "{id: n, type: number, label: N, max: today}",
            ["8:41: error: expected a number, got a string"],
            id="number-bound-text",
        ),
        pytest.param(
            "{id: n, type: multichoice, label: N, choices: [a, b], min: '1'}",
            ["8:63: error: expected a number, got a string (remove the quotes: 1)"],
            id="multichoice-bound-quoted",
        ),
        pytest.param(
            "{id: n, type: group, label: N, max: true, fields: [{id: a, type: text, label: A}]}",
            ["8:40: error: expected a number, got true or false"],
            id="group-bound-boolean",
        ),
    ],
)
def test_per_type_field_rules(pack: Pack, fields: str, expected: list[str]) -> None:
    procedure(pack, STEP_HEAD + "      - " + fields + "\n")
    assert pack.problems() == [f"{PROC}:{e}" for e in expected]


@pytest.mark.parametrize(
    "bound", ["today", "today - 18 years", "today + 15 days", "today - 1 month", "2026-02-28"]
)
def test_date_bounds_accepted(pack: Pack, bound: str) -> None:
    procedure(pack, STEP_HEAD + f"      - {{id: c, type: date, label: C, min: {bound}}}\n")
    assert pack.problems() == []


def test_conditions_reading_later_steps(pack: Pack) -> None:
    procedure(
        pack,
        """\
  - id: acte
    title: L'acte
    visible_if: "age > 3"
    fields:
      - {id: quatre, type: text, label: Q, visible_if: "plus_tard == 'x'"}
  - id: suite
    title: Suite
    fields:
      - {id: age, type: number, label: Âge}
      - {id: plus_tard, type: text, label: P}
""",
        head='documents:\n  - {type: piece-identite, visible_if: "age > 3"}\n',
    )
    assert pack.problems() == [
        f"{PROC}:9:5: error: condition refers to field 'age' of a later step 'suite' "
        f"({HINT_LATER})",
        f"{PROC}:11:44: error: condition refers to field 'plus_tard' of a later step 'suite' "
        f"({HINT_LATER})",
    ]


WORKFLOW = "pack/workflows/default.yaml"


def test_workflow_checks(pack: Pack) -> None:
    pack.write(
        "workflows/default.yaml",
        """
        label: Circuit
        initial: recue
        cancel_to: en-cours
        states:
          recue: {label: Reçue, citizen_can_cancel: true}
          en-cours: {label: En cours}
          isolee: {label: Isolée}
          terminee: {label: Terminée, final: true}
        transitions:
          - {id: traiter, label: Traiter, from: recue, to: en-cours}
          - {id: finir, label: Finir, from: [en-cours, nulle-part], to: terminee}
          - {id: rouvrir, label: Rouvrir, from: terminee, to: en-cour}
          - {id: traiter, label: Encore, from: recue, to: terminee}
        """,
    )
    assert pack.problems() == [
        f"{WORKFLOW}:3:1: error: cancel_to state 'en-cours' is not final (mark it `final: true`)",
        f"{WORKFLOW}:7:3: error: state 'isolee' cannot be reached from the initial state "
        "'recue' (add a transition to it, or remove it)",
        f"{WORKFLOW}:11:48: error: unknown state 'nulle-part'",
        f"{WORKFLOW}:12:35: error: transition 'rouvrir' leaves the final state 'terminee' "
        "(a final state closes the request)",
        f"{WORKFLOW}:12:51: error: unknown state 'en-cour' (did you mean 'en-cours'?)",
        f"{WORKFLOW}:13:6: error: transition id 'traiter' is used twice",
    ]


def test_workflow_without_final_state_or_cancel_to(pack: Pack) -> None:
    pack.write(
        "workflows/default.yaml",
        "label: Circuit\ninitial: recue\nstates:\n"
        "  recue: {label: Reçue, citizen_can_cancel: true}\n",
    )
    assert pack.problems() == [
        f"{WORKFLOW}:3:1: error: no final state (mark the closing states `final: true`)",
        f"{WORKFLOW}:4:25: error: state 'recue' lets the citizen cancel but there is no "
        "cancel_to (add `cancel_to: <final state>`)",
    ]


def test_missing_default_workflow_is_reported_once(pack: Pack) -> None:
    pack.remove("workflows/default.yaml")
    assert pack.problems() == [
        f"{PROC}:1:1: error: no workflow 'default' (procedures without `workflow:` use it, "
        "this one and 1 other: add workflows/default.yaml)",
    ]


def test_default_workflow_is_required_only_when_used(pack: Pack) -> None:
    default = pack.root / "pack/workflows/default.yaml"
    pack.write("workflows/circuit.yaml", default.read_text(encoding="utf-8"))
    pack.remove("workflows/default.yaml")
    for name in ("acte-naissance", "inscription-cantine"):
        path = pack.root / "pack/procedures" / f"{name}.yaml"
        path.write_text("workflow: circuit\n" + path.read_text(encoding="utf-8"))
    assert pack.problems() == []


def test_portal_references(pack: Pack) -> None:
    pack.write(
        "portal.yaml",
        """
        name: Ville
        logo: assets/absent.svg
        themes:
          - {id: etat-civil, label: État civil}
          - {id: enfance, label: Enfance}
        featured: [acte-naissance, acte-naisance]
        """,
    )
    assert pack.problems() == [
        "pack/portal.yaml:2:1: error: logo file 'assets/absent.svg' does not exist "
        "(the path is relative to the layer folder pack)",
        "pack/portal.yaml:6:28: error: featured procedure 'acte-naisance' does not exist "
        "(did you mean 'acte-naissance'?)",
    ]


def test_news_publication_window_and_agenda_hours(pack: Pack) -> None:
    pack.write(
        "news/fete.yaml",
        "title: Fête\ncategory: Culture\ndate: 2026-06-21\n"
        "publish: {from: 2026-07-01, until: 2026-06-01}\nbody: Texte.\n",
    )
    pack.write(
        "agendas.yaml", "accueil:\n  label: A\n  opening_hours:\n    monday: ['12:00-09:00']\n"
    )
    assert pack.problems() == [
        "pack/agendas.yaml:4:14: error: opening range '12:00-09:00' ends before it starts",
        "pack/news/fete.yaml:4:29: error: the publication start date must be before its end "
        "date (swap the dates: from 2026-07-01, until 2026-06-01)",
    ]


def test_all_files_are_reported_in_one_run(pack: Pack) -> None:
    pack.write(
        "services.yaml",
        "etat-civil: {label: État civil, emial: x@y.fr}\nenfance: {label: Enfance}\n",
    )
    procedure(pack, ONE_STEP, "workflow: defaut\n")
    pack.write("news/fete.yaml", "title: [\n")
    problems = pack.problems()
    assert [p.split(": error")[0] for p in problems] == [
        "pack/news/fete.yaml:2:1",
        f"{PROC}:4:1",
        "pack/services.yaml:1:33",
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            "{id: j, type: multichoice, label: J, choices: [a, b], max: 3}",
            [
                "8:63: error: max allows 3 ticked boxes but there are only 2 choices "
                "(lower max to 2, or add choices)"
            ],
            id="multichoice-max",
        ),
        pytest.param(
            "{id: j, type: multichoice, label: J, choices: [a, b], min: 3, max: 2}",
            [
                "8:63: error: min asks for 3 ticked boxes but there are only 2 choices "
                "(lower min to 2, or add choices)",
                "8:71: error: min (3) is greater than max (2) (swap min and max)",
            ],
            id="multichoice-min",
        ),
        pytest.param(
            "{id: e, type: group, label: E, required: true, "
            "fields: [{id: a, type: heading, text: A}]}",
            [
                "8:40: error: 'required' does not apply to a field of type 'group' "
                "(write `min: 1` to ask for at least one row)"
            ],
            id="group-required",
        ),
        pytest.param(
            "id: mineurs\n"
            "        type: group\n"
            "        label: Mineurs\n"
            "        fields:\n"
            "          - {id: prenom, type: text, label: Prénom}\n"
            "          - {id: age, type: number, label: Âge, visible_if: mineurs is not empty}\n"
            "      - {id: autre, type: text, label: Autre, visible_if: \"prenom == 'Léa'\"}",
            [
                "13:49: error: a field of group 'mineurs' cannot refer to the group itself "
                "(it may read the other fields of its row and the fields outside the group)",
                "14:47: error: field 'prenom' belongs to group 'mineurs'; only fields of the "
                "same group row can refer to it",
            ],
            id="group-scope",
        ),
    ],
)
def test_admin_field_rules(pack: Pack, fields: str, expected: list[str]) -> None:
    procedure(pack, STEP_HEAD + "      - " + fields + "\n")
    assert pack.problems() == [f"{PROC}:{e}" for e in expected]


def test_a_reference_to_a_disabled_theme_names_the_overlay(pack: Pack) -> None:
    Pack(pack.root, "overlay", "overlay")  # disables the theme 'enfance'
    (pack.root / "overlay/procedures/inscription-cantine.yaml").unlink()
    assert pack.problems("overlay") == [
        "pack/procedures/inscription-cantine.yaml:2:1: error: theme 'enfance' is disabled by "
        "overlay/portal.yaml (choose another theme, or replace or disable this procedure in "
        "that layer too)",
    ]


def test_cross_checks_run_beside_schema_problems(pack: Pack) -> None:
    procedure(
        pack,
        """\
  - id: acte
    title: L'acte
    fields:
      - {id: nom, type: text, label: Nom, requierd: true}
      - {id: envoi, type: choice, label: Envoi, choices: [courrier, guichet]}
      - {id: motif, type: text, label: Motif, visible_if: "envoi == 'fax'"}
      - {id: note, type: text, label: Note, visible_if: "evnoi is empty"}
      - {id: age, type: number, label: Âge, min: 5, max: 2, couleur: 3}
""",
        head="theme: etat-civi\nworkflow: defaut\nquota: {max: 0}\n",
    )
    text = (
        (pack.root / PROC)
        .read_text(encoding="utf-8")
        .replace("title: Acte\ntheme: etat-civil\n", "")
    )
    (pack.root / PROC).write_text(text, encoding="utf-8")
    assert pack.problems() == [
        f"{PROC}:1:1: error: missing required key 'title' in procedure",
        f"{PROC}:2:1: error: unknown theme 'etat-civi' (did you mean 'etat-civil'?)",
        f"{PROC}:3:1: error: unknown workflow 'defaut' (did you mean 'default'?)",
        f"{PROC}:4:9: error: 0 is less than the minimum of 1",
        f"{PROC}:9:43: error: unknown key 'requierd' in field 'nom' (did you mean 'required'?)",
        f"{PROC}:11:47: error: condition: 'fax' is not a choice of field 'envoi' "
        "(choices: courrier, guichet)",
        f"{PROC}:12:45: error: condition refers to unknown field 'evnoi' (did you mean 'envoi'?)",
        # the field with a schema problem gets its per-type checks (min > max) in a second run
        f"{PROC}:13:61: error: unknown key 'couleur' in field 'age'",
    ]


def test_a_condition_reading_a_broken_field_gets_no_type_check(pack: Pack) -> None:
    procedure(
        pack,
        STEP_HEAD + "      - {id: n, type: nombre, label: N}\n"
        "      - {id: m, type: text, label: M, visible_if: \"n > 'douze'\"}\n"
        '      - {id: o, type: text, label: O, visible_if: "x is empty"}\n',
    )
    problems = pack.problems()
    assert [p.split(": error: ")[1] for p in problems] == [
        "'nombre' is not one of: text, textarea, email, phone, number, date, choice, "
        "multichoice, checkbox, address, postal_code, heading, paragraph, group "
        "(did you mean 'number'?)",
        "condition refers to unknown field 'x'",
    ]


def test_an_unreadable_file_hides_no_other_problem_and_adds_none(pack: Pack) -> None:
    pack.write("services.yaml", "etat-civil: {label: [\n")
    pack.write("workflows/default.yaml", "label: [\n")
    procedure(pack, ONE_STEP, "documents:\n  - {type: livret}\n")
    assert [p.split(": error: ")[1] for p in pack.problems()] == [
        "unknown document type 'livret' (declare it in document-types.yaml)",
        "invalid YAML: did not find expected node content while parsing a flow node "
        "(a bracket or brace is not closed)",
        "invalid YAML: did not find expected node content while parsing a flow node "
        "(a bracket or brace is not closed)",
    ]


def test_condition_hints_are_hints(pack: Pack) -> None:
    procedure(
        pack,
        STEP_HEAD + "      - {id: n, type: text, label: N}\n"
        "      - {id: m, type: text, label: M, visible_if: \"n = 'x' AND n\"}\n",
    )
    [found] = pack.validate().problems
    assert (found.message, found.hint) == (
        "invalid condition: unknown operator '='",
        "did you mean '=='?",
    )
    assert found.as_json()["hint"] == "did you mean '=='?"
