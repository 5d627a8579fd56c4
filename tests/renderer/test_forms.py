"""WTForms classes built from compiled steps: coercion, French messages, conditions, groups."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from starlette.datastructures import FormData

from engine.model import Choice, Field, Procedure, Step
from renderer import forms

TODAY = dt.date(2026, 6, 1)
CHOICES = (Choice("a", "Choix A"), Choice("b", "Choix B"), Choice("c", "Choix C"))
FIELDS = (
    Field(id="texte", type="text", label="Texte", required=True, min_length=2, max_length=5),
    Field(id="code", type="text", label="Code", pattern=r"^W\d{3}$", pattern_message="W + 3."),
    Field(id="long", type="textarea", label="Long", max_length=10),
    Field(id="mail", type="email", label="Courriel"),
    Field(id="tel", type="phone", label="Téléphone"),
    Field(id="cp", type="postal_code", label="Code postal"),
    Field(id="nombre", type="number", label="Nombre", min=1, max=10, integer=True),
    Field(id="reel", type="number", label="Réel", min=0.5),
    Field(id="jour", type="date", label="Jour", date_min="today", date_max="today + 1 months"),
    Field(id="choix", type="choice", label="Choix", choices=CHOICES, required=True),
    Field(id="liste", type="choice", label="Liste", choices=CHOICES, display="select"),
    Field(id="cases", type="multichoice", label="Cases", choices=CHOICES, min=1, max=2),
    Field(id="accord", type="checkbox", label="J'accepte", required=True),
    Field(id="adresse", type="address", label="Adresse", required=True),
    Field(id="titre", type="heading", text="Un titre"),
    Field(id="texte_libre", type="paragraph", text="Un paragraphe"),
    Field(id="detail", type="text", label="Détail", required=True, visible_if="choix == 'b'"),
    Field(
        id="lignes",
        type="group",
        label="Lignes",
        min_items=1,
        max_items=3,
        fields=(
            Field(id="nom", type="text", label="Nom", required=True),
            Field(id="age", type="number", label="Âge", visible_if="nom == 'Bob'", required=True),
        ),
    ),
)
STEP = Step(id="tout", title="Tout", fields=FIELDS)
PROC = Procedure(id="p", title="P", theme="t", service="s", steps=(STEP,), version="v-forms")
VALID = [
    ("texte", "abc"),
    ("code", "W123"),
    ("long", "court"),
    ("mail", "a@b.fr"),
    ("tel", "01 23 45 67 89"),
    ("cp", "45000"),
    ("nombre", "3"),
    ("reel", "0,75"),
    ("jour", "2026-06-15"),
    ("choix", "a"),
    ("liste", "c"),
    ("cases", "a"),
    ("cases", "b"),
    ("accord", "1"),
    ("adresse-street", "1 rue"),
    ("adresse-postal_code", "45000"),
    ("adresse-city", "Belval"),
    ("lignes-rows", "1"),
    ("lignes-0-nom", "Alice"),
]


def parse(pairs: list[tuple[str, str]]) -> forms.Parsed:
    return forms.parse_step(PROC, forms.step_form(PROC, STEP), FormData(pairs), {}, TODAY)


def replaced(key: str, value: str | None) -> list[tuple[str, str]]:
    pairs = [(k, v) for k, v in VALID if k != key]
    return pairs if value is None else [*pairs, (key, value)]


def test_valid_values_are_coerced() -> None:
    parsed = parse(VALID)
    assert parsed.errors == {}
    assert parsed.values == {
        "texte": "abc",
        "code": "W123",
        "long": "court",
        "mail": "a@b.fr",
        "tel": "01 23 45 67 89",
        "cp": "45000",
        "nombre": 3,
        "reel": 0.75,
        "jour": "2026-06-15",
        "choix": "a",
        "liste": "c",
        "cases": ["a", "b"],
        "accord": True,
        "adresse": {"street": "1 rue", "postal_code": "45000", "city": "Belval"},
        "lignes": [{"nom": "Alice"}],
    }


@pytest.mark.parametrize(
    ("key", "value", "anchor", "message"),
    [
        ("texte", None, "f-texte", "Ce champ est obligatoire."),
        ("texte", "a", "f-texte", "Saisissez au moins 2 caractères."),
        ("texte", "abcdef", "f-texte", "Saisissez au plus 5 caractères."),
        ("code", "X1", "f-code", "W + 3."),
        ("mail", "a@b", "f-mail", "Saisissez une adresse électronique valide."),
        ("tel", "123", "f-tel", "Saisissez un numéro de téléphone valide."),
        ("cp", "4500", "f-cp", "Saisissez un code postal à 5 chiffres."),
        ("nombre", "abc", "f-nombre", "Saisissez un nombre."),
        ("nombre", "2,5", "f-nombre", "Saisissez un nombre entier."),
        ("nombre", "11", "f-nombre", "La valeur doit être inférieure ou égale à 10."),
        ("reel", "0,25", "f-reel", "La valeur doit être supérieure ou égale à 0,5."),
        ("jour", "2026-05-31", "f-jour", "La date doit être le 01/06/2026 ou après."),
        ("jour", "2026-07-02", "f-jour", "La date doit être le 01/07/2026 ou avant."),
        ("jour", "demain", "f-jour", "Saisissez une date valide."),
        ("choix", "z", "f-choix", "Sélectionnez une des valeurs proposées."),
        ("choix", None, "f-choix", "Choisissez une réponse."),
        ("accord", None, "f-accord", "Cochez cette case pour continuer."),
        ("adresse-city", None, "f-adresse-city", "Ce champ est obligatoire."),
        ("lignes-0-nom", None, "f-lignes-0-nom", "Ce champ est obligatoire."),
        ("lignes-rows", "0", "f-lignes-add", "Ajoutez au moins une ligne."),
    ],
)
def test_french_messages(key: str, value: str | None, anchor: str, message: str) -> None:
    parsed = parse(replaced(key, value))
    assert parsed.errors == {anchor: message}


def test_multichoice_bounds() -> None:
    pairs = [p for p in VALID if p[0] != "cases"]
    assert parse(pairs).errors == {}  # not required: no answer is allowed
    assert parse([*pairs, ("cases", "a")]).errors == {}
    three = [*pairs, ("cases", "a"), ("cases", "b"), ("cases", "c")]
    assert parse(three).errors == {"f-cases": "Cochez au plus 2 cases."}


def test_conditional_field_required_only_when_visible() -> None:
    assert "detail" not in parse([*VALID, ("detail", "caché")]).values
    shown = replaced("choix", "b")
    assert parse(shown).errors == {"f-detail": "Ce champ est obligatoire."}
    assert parse([*shown, ("detail", "vu")]).values["detail"] == "vu"


def test_conditional_sub_field_reads_its_row() -> None:
    bob = replaced("lignes-0-nom", "Bob")
    assert parse(bob).errors == {"f-lignes-0-age": "Ce champ est obligatoire."}
    rows = parse([*bob, ("lignes-0-age", "7")]).values["lignes"]
    assert rows == [{"nom": "Bob", "age": 7}]
    assert parse([*VALID, ("lignes-0-age", "7")]).values["lignes"] == [{"nom": "Alice"}]


def test_group_buttons() -> None:
    added = parse([*VALID, ("_add_lignes", "1")])
    assert added.action == ("add", "lignes", 1)
    forms.apply_action(added.values, STEP, added.action)
    assert [row.get("nom") for row in added.values["lignes"]] == ["Alice", None]
    removed = parse([*replaced("lignes-rows", "2"), ("_remove_lignes_1", "1")])
    assert removed.action == ("remove", "lignes", 1)
    forms.apply_action(removed.values, STEP, removed.action)
    assert len(removed.values["lignes"]) == 1


def test_stored_values_validate_again() -> None:
    values = parse(VALID).values
    again = forms.parse_step(
        PROC, forms.step_form(PROC, STEP), forms.as_formdata(STEP, values), {}, TODAY
    )
    assert again.errors == {} and again.values == values


def test_forms_are_cached_per_version_and_step() -> None:
    assert forms.step_form(PROC, STEP) is forms.step_form(PROC, STEP)
    other: Any = Procedure(id="p", title="P", theme="t", service="s", steps=(STEP,), version="v2")
    assert forms.step_form(other, STEP) is not forms.step_form(PROC, STEP)
    view = forms.step_form(PROC, STEP).views["detail"]
    assert view.cond.startswith(' data-visible-if="{&#34;op&#34;')
    assert "(obligatoire)" in view.label
