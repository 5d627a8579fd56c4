"""Runtime rules: opening windows, quota periods, visibility of values, workflow, date bounds."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.conditions import evaluate, parse
from engine.model import (
    DocumentRequirement,
    DocumentType,
    Field,
    OpenWindow,
    Procedure,
    State,
    Step,
    Transition,
    Workflow,
)
from engine.rules import (
    Visibility,
    allowed_transitions,
    can_cancel,
    field_visible,
    quota_period_key,
    resolve_date_bound,
    step_dependencies,
    visibility,
    visible_documents,
    visible_steps,
    visible_values,
    window_status,
)

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def procedure(**kwargs: object) -> Procedure:
    return Procedure(id="p", title="Démarche", theme="t", service="s", **kwargs)  # type: ignore[arg-type]


# --- opening window ----------------------------------------------------------------------

# Opens on the day clocks go forward and closes at the end of the day they go back.
WINDOW = OpenWindow(
    start=dt.datetime(2026, 3, 29, 0, 0, tzinfo=PARIS),
    end=dt.datetime(2026, 10, 25, 23, 59, 59, 999999, tzinfo=PARIS),
)


@pytest.mark.parametrize(
    ("now", "status"),
    [
        (utc(2026, 3, 28, 22, 59, 59), "not_yet"),  # 23:59:59 in Paris (UTC+1)
        (utc(2026, 3, 28, 23, 0, 0), "open"),  # midnight in Paris
        (dt.datetime(2026, 3, 29, 0, 0, tzinfo=PARIS), "open"),
        (utc(2026, 7, 14, 12, 0), "open"),
        (utc(2026, 10, 25, 22, 59, 59), "open"),  # 23:59:59 in Paris (UTC+1 again)
        (utc(2026, 10, 25, 23, 0, 0), "closed"),  # midnight in Paris
        (dt.datetime(2026, 10, 26, 0, 0, tzinfo=PARIS), "closed"),
    ],
)
def test_window_boundaries_in_paris_time(now: dt.datetime, status: str) -> None:
    assert window_status(procedure(open=WINDOW), now) == status


def test_window_without_bounds_or_with_one_bound() -> None:
    now = utc(2030, 1, 1)
    assert window_status(procedure(), now) == "open"
    assert window_status(procedure(open=OpenWindow(start=WINDOW.start)), now) == "open"
    assert window_status(procedure(open=OpenWindow(end=WINDOW.end)), now) == "closed"
    assert window_status(procedure(open=OpenWindow(end=WINDOW.end)), utc(2000, 1, 1)) == "open"


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^now must be a timezone-aware datetime$"):
        window_status(procedure(open=WINDOW), dt.datetime(2026, 5, 1))
    with pytest.raises(ValueError, match=r"^now must be a timezone-aware datetime$"):
        quota_period_key("day", dt.datetime(2026, 5, 1))


# --- quota periods -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("per", "now", "key"),
    [
        ("total", utc(2026, 11, 29, 12), "total"),
        ("year", utc(2026, 11, 29, 12), "2026"),
        ("month", utc(2026, 11, 29, 12), "2026-11"),
        ("week", utc(2026, 11, 29, 12), "2026-W48"),
        ("day", utc(2026, 11, 29, 12), "2026-11-29"),
        # 23:30 UTC on Sunday is already Monday in Paris: a new ISO week and a new day
        ("week", utc(2026, 11, 29, 22, 30), "2026-W48"),
        ("week", utc(2026, 11, 29, 23, 30), "2026-W49"),
        ("day", utc(2026, 11, 29, 23, 30), "2026-11-30"),
        ("month", utc(2026, 11, 30, 23, 30), "2026-12"),
        # New Year in Paris while still 31 December in UTC; 1 Jan 2027 is in ISO week 53 of 2026
        ("year", utc(2026, 12, 31, 23, 30), "2027"),
        ("month", utc(2026, 12, 31, 23, 30), "2027-01"),
        ("day", utc(2026, 12, 31, 23, 30), "2027-01-01"),
        ("week", utc(2026, 12, 31, 23, 30), "2026-W53"),
        ("year", utc(2026, 12, 31, 22, 30), "2026"),
        # 30 Dec 2024 belongs to ISO week 1 of 2025
        ("week", utc(2024, 12, 30, 10), "2025-W01"),
        ("year", utc(2024, 12, 30, 10), "2024"),
        # summer time: UTC+2
        ("month", utc(2026, 6, 30, 21, 59), "2026-06"),
        ("month", utc(2026, 6, 30, 22, 0), "2026-07"),
    ],
)
def test_quota_period_keys(per: str, now: dt.datetime, key: str) -> None:
    assert quota_period_key(per, now) == key


def test_unknown_quota_period() -> None:
    with pytest.raises(ValueError, match=r"^unknown quota period 'fortnight' \(expected total"):
        quota_period_key("fortnight", utc(2026, 1, 1))


# --- visibility --------------------------------------------------------------------------

JUSTIFICATIF = DocumentRequirement(DocumentType("justificatif-domicile", "Justificatif"))
CARNET = DocumentRequirement(DocumentType("carnet-sante", "Carnet"), visible_if="pai_urgence")
ENFANTS = Field(
    "enfants",
    "group",
    fields=(
        Field("prenom", "text"),
        Field("allergie", "checkbox"),
        # declared before the sibling it depends on, so one pass over the row is not enough
        Field("allergie_grave", "checkbox", visible_if="allergie_detail is not empty"),
        Field("allergie_detail", "text", visible_if="allergie"),
        Field("repas_pai", "text", visible_if="regime == 'PAI'"),
    ),
)
# Fields are declared in the reverse order of their dependencies: one pass cannot settle them.
STEPS = (
    Step(
        "enfant",
        "Votre enfant",
        fields=(
            Field("titre", "heading", text="Santé"),
            Field("regime", "choice"),
            Field("pai_urgence", "checkbox", visible_if="pai_medecin"),
            Field("pai_medecin", "text", visible_if="pai_detail is not empty"),
            Field("pai_detail", "textarea", visible_if="regime == 'PAI'"),
            ENFANTS,
        ),
    ),
    Step("sante", "Santé", visible_if="pai_urgence", fields=(Field("protocole", "text"),)),
    Step("fin", "Fin", fields=(Field("commentaire", "textarea", visible_if="not pai_detail"),)),
)
CANTINE = procedure(steps=STEPS, documents=(JUSTIFICATIF, CARNET))
ANSWERS: dict[str, object] = {
    "regime": "PAI",
    "pai_detail": "asthme",
    "pai_medecin": "Dr Martin",
    "pai_urgence": True,
    "protocole": "Ventoline",
    "commentaire": "rien",
    "inconnu": "dropped",
    "titre": "not a value",
}


def test_visible_values_keep_visible_fields_in_step_order() -> None:
    assert list(visible_values(CANTINE, ANSWERS).items()) == [
        ("regime", "PAI"),
        ("pai_urgence", True),
        ("pai_medecin", "Dr Martin"),
        ("pai_detail", "asthme"),
        ("protocole", "Ventoline"),
    ]


def test_hiding_a_field_hides_what_depends_on_it_to_a_fixed_point() -> None:
    values = {**ANSWERS, "regime": "standard"}
    # pai_detail hidden -> pai_medecin hidden -> pai_urgence hidden -> step "sante" hidden;
    # and commentaire, shown when pai_detail is empty, appears.
    assert visible_values(CANTINE, values) == {"regime": "standard", "commentaire": "rien"}
    assert [s.id for s in visible_steps(CANTINE, values)] == ["enfant", "fin"]
    assert visible_documents(CANTINE, values) == (JUSTIFICATIF,)


def test_visible_steps_and_documents_when_everything_applies() -> None:
    assert [s.id for s in visible_steps(CANTINE, ANSWERS)] == ["enfant", "sante", "fin"]
    assert visible_documents(CANTINE, ANSWERS) == (JUSTIFICATIF, CARNET)


def test_missing_values_stay_missing() -> None:
    assert visible_values(CANTINE, {}) == {}
    assert visible_values(CANTINE, {"regime": "PAI"}) == {"regime": "PAI"}
    assert [s.id for s in visible_steps(CANTINE, {})] == ["enfant", "fin"]


def test_group_rows_drop_hidden_sub_fields_per_row() -> None:
    rows = [
        {"prenom": "Léa", "allergie": True, "allergie_grave": True, "allergie_detail": "arachide",
         "repas_pai": "oui"},
        {"prenom": "Tom", "allergie": False, "allergie_grave": True, "allergie_detail": "ancien",
         "autre": 1},
        "not a row",
    ]  # fmt: skip
    shown = visible_values(CANTINE, {"regime": "standard", "enfants": rows})
    assert shown["enfants"] == [
        {"prenom": "Léa", "allergie": True, "allergie_grave": True, "allergie_detail": "arachide"},
        {"prenom": "Tom", "allergie": False},
    ]
    shown = visible_values(CANTINE, {"regime": "PAI", "enfants": rows[:1]})
    assert shown["enfants"] == [rows[0]]


def test_field_visible_reads_row_siblings_before_top_level_values() -> None:
    detail = ENFANTS.fields[3]
    assert field_visible(detail, {"allergie": True}) is True
    assert field_visible(detail, {"allergie": True}, row={"allergie": False}) is False
    assert field_visible(detail, {}, row={"allergie": True}) is True
    assert field_visible(Field("x", "text"), {}) is True


def test_visibility_gives_values_steps_and_documents_at_once() -> None:
    values = {**ANSWERS, "regime": "standard"}
    assert visibility(CANTINE, values) == Visibility(
        {"regime": "standard", "commentaire": "rien"}, (STEPS[0], STEPS[2]), (JUSTIFICATIF,)
    )
    assert visibility(CANTINE, ANSWERS) == Visibility(
        visible_values(CANTINE, ANSWERS), STEPS, (JUSTIFICATIF, CARNET)
    )


def _reference_fixed_point(proc: Procedure, raw: dict[str, object]) -> dict[str, object]:
    """The rule as the module docstring states it: filter again until nothing changes."""
    current = dict(raw)
    while True:
        kept: dict[str, object] = {}
        for step in proc.steps:
            if step.visible_if and not evaluate(parse(step.visible_if), current):
                continue
            for f in step.fields:
                shown = f.visible_if is None or evaluate(parse(f.visible_if), current)
                if f.holds_value and f.id in raw and shown:
                    kept[f.id] = raw[f.id]
        if kept.keys() == current.keys():
            return kept
        current = kept


_MAYBE_TEXT = st.sampled_from(["", "x", None])


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "regime": st.sampled_from(["PAI", "standard", ""]),
            "pai_urgence": st.booleans(),
            "pai_medecin": _MAYBE_TEXT,
            "pai_detail": _MAYBE_TEXT,
            "protocole": _MAYBE_TEXT,
            "commentaire": _MAYBE_TEXT,
        },
    )
)
def test_one_pass_gives_the_fixed_point(values: dict[str, object]) -> None:
    # CANTINE declares its fields in the reverse order of their dependencies.
    expected = _reference_fixed_point(CANTINE, values)
    shown = visibility(CANTINE, values)
    assert shown.values == expected
    assert list(shown.values) == [f.id for s in STEPS for f in s.fields if f.id in expected]
    assert shown.steps == tuple(
        s for s in STEPS if s.visible_if is None or evaluate(parse(s.visible_if), expected)
    )


def test_step_dependencies_follow_conditions_through_other_fields() -> None:
    # "sante" is shown when pai_urgence, which reads pai_medecin, which reads pai_detail,
    # which reads regime; "fin" reads pai_detail (so regime too); "enfant" reads only itself.
    assert step_dependencies(CANTINE, STEPS[1]) == {
        "pai_urgence",
        "pai_medecin",
        "pai_detail",
        "regime",
    }
    assert step_dependencies(CANTINE, STEPS[2]) == {"pai_detail", "regime"}
    assert step_dependencies(CANTINE, STEPS[0]) == frozenset()


def test_step_dependencies_include_the_steps_that_hide_a_field_read() -> None:
    proc = procedure(
        steps=(
            Step("a", "A", fields=(Field("mode", "choice"),)),
            Step("b", "B", visible_if="mode == 'long'", fields=(Field("detail", "text"),)),
            Step("c", "C", fields=(Field("suite", "text", visible_if="detail is not empty"),)),
            Step(
                "d",
                "D",
                fields=(Field("rows", "group", fields=(Field("n", "text", visible_if="suite"),)),),
            ),
        )
    )
    steps = {s.id: s for s in proc.steps}
    assert step_dependencies(proc, steps["b"]) == {"mode"}
    assert step_dependencies(proc, steps["c"]) == {"detail", "mode"}
    assert step_dependencies(proc, steps["d"]) == {"suite", "detail", "mode"}
    assert step_dependencies(proc, steps["a"]) == frozenset()


def test_conditions_that_form_a_cycle_still_end() -> None:
    # The loader rejects cycles; the rule must still terminate if one slipped through.
    proc = procedure(
        steps=(
            Step(
                "s",
                "S",
                fields=(
                    Field("a", "text", visible_if="b is empty"),
                    Field("b", "text", visible_if="a is empty"),
                ),
            ),
        )
    )
    assert visible_values(proc, {"a": "x", "b": "y"}) in ({}, {"a": "x", "b": "y"})
    assert visibility(proc, {"a": "x"}) == Visibility({"a": "x"}, proc.steps, ())
    assert step_dependencies(proc, proc.steps[0]) == frozenset()


# --- workflow ----------------------------------------------------------------------------

WORKFLOW = Workflow(
    id="default",
    label="Circuit standard",
    initial="recue",
    states=(
        State("recue", "Reçue", citizen_can_cancel=True),
        State("en-cours", "En cours de traitement"),
        State("terminee", "Terminée", final=True),
        State("annulee", "Annulée", final=True, citizen_can_cancel=True),
    ),
    transitions=(
        Transition("prendre", "Prendre en charge", ("recue",), "en-cours"),
        Transition("annuler", "Annuler", ("recue", "en-cours"), "annulee", by=("citizen",)),
        Transition("clore", "Clore", ("en-cours",), "terminee", by=("agent", "system")),
        Transition("rejeter", "Rejeter", ("recue", "en-cours"), "annulee"),
    ),
    cancel_to="annulee",
)


@pytest.mark.parametrize(
    ("state", "expected"),
    [("recue", True), ("en-cours", False), ("annulee", False), ("inconnu", False)],
)
def test_can_cancel(state: str, expected: bool) -> None:
    assert can_cancel(WORKFLOW, state) is expected


def test_cannot_cancel_without_a_cancel_state() -> None:
    workflow = Workflow("w", "W", "recue", WORKFLOW.states, cancel_to=None)
    assert can_cancel(workflow, "recue") is False


def test_allowed_transitions_by_state_and_actor() -> None:
    ids = lambda state, actor: [t.id for t in allowed_transitions(WORKFLOW, state, actor)]  # noqa: E731
    assert ids("recue", "agent") == ["prendre", "rejeter"]
    assert ids("recue", "citizen") == ["annuler"]
    assert ids("en-cours", "agent") == ["clore", "rejeter"]
    assert ids("en-cours", "system") == ["clore"]
    assert ids("terminee", "agent") == []
    assert ids("inconnu", "agent") == []


# --- date bounds -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "today", "expected"),
    [
        ("today", "2026-11-29", "2026-11-29"),
        ("  today ", "2026-11-29", "2026-11-29"),
        ("2026-01-01", "2026-11-29", "2026-01-01"),
        ("today - 18 years", "2026-11-29", "2008-11-29"),
        ("today - 18 years", "2024-02-29", "2006-02-28"),
        ("today + 4 years", "2024-02-29", "2028-02-29"),
        ("today + 1 year", "2024-02-29", "2025-02-28"),
        ("today + 30 days", "2026-11-29", "2026-12-29"),
        ("today - 1 day", "2026-01-01", "2025-12-31"),
        ("today+30days", "2026-11-29", "2026-12-29"),
        ("today - 1 month", "2026-03-31", "2026-02-28"),
        ("today + 1 month", "2026-01-31", "2026-02-28"),
        ("today + 1 month", "2024-01-31", "2024-02-29"),
        ("today - 6 months", "2026-08-31", "2026-02-28"),
        ("today + 13 months", "2026-12-15", "2028-01-15"),
        ("today - 12 months", "2026-01-15", "2025-01-15"),
    ],
)
def test_resolve_date_bound(rule: str, today: str, expected: str) -> None:
    resolved = resolve_date_bound(rule, dt.date.fromisoformat(today))
    assert resolved == dt.date.fromisoformat(expected)


@pytest.mark.parametrize("rule", ["tomorrow", "today - 18 weeks", "2026-02-30", "today -", ""])
def test_invalid_date_bounds(rule: str) -> None:
    with pytest.raises(
        ValueError, match=rf"^invalid date bound '{re.escape(rule)}' \(expected YYYY-MM-DD"
    ):
        resolve_date_bound(rule, dt.date(2026, 1, 1))


@pytest.mark.parametrize(
    "rule", ["today - 999999 days", "today + 999999 years", "today + 99999 months"]
)
def test_date_bounds_out_of_range(rule: str) -> None:
    with pytest.raises(ValueError, match=rf"^date bound '{re.escape(rule)}' is out of range$"):
        resolve_date_bound(rule, dt.date(2026, 1, 1))
