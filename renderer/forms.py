"""WTForms classes built from compiled steps: parsing, coercion and validation in French.

The HTML is never rendered by WTForms (a widget render costs ~250 µs per field): the Jinja
macros of ``_fields.html`` render the compiled ``Field`` directly. WTForms only turns posted
form data into stored values and error messages. Classes are built once per (procedure
version, step) and cached, like the compiled model itself.

Stored value shapes (JSON-able, what the draft and the request keep): text-like -> str,
number -> int | float, date -> "YYYY-MM-DD", choice -> str, multichoice -> list[str],
checkbox -> bool, address -> {"street", "postal_code", "city"}, group -> list of row dicts.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import wtforms
from markupsafe import Markup, escape
from wtforms.validators import StopValidation, ValidationError

from engine import conditions, rules
from engine.model import Choice, Field, Procedure, Step

REQUIRED = "Ce champ est obligatoire."
REQUIRED_BOX = "Cochez cette case pour continuer."
REQUIRED_CHOICE = "Choisissez une réponse."
REQUIRED_BOXES = "Cochez au moins une case."
EMAIL = "Saisissez une adresse électronique valide."
PHONE = "Saisissez un numéro de téléphone valide."
POSTAL_CODE = "Saisissez un code postal à 5 chiffres."
NUMBER = "Saisissez un nombre."
INTEGER = "Saisissez un nombre entier."
DATE = "Saisissez une date valide."
CHOICE = "Sélectionnez une des valeurs proposées."
PATTERN = "Le format de la saisie n'est pas valide."

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_RE = re.compile(r"^(?:(?:\+|00)33|0)[1-9]\d{8}$|^\+\d{8,15}$")
_POSTAL_RE = re.compile(r"^\d{5}$")
_PHONE_JUNK = re.compile(r"[\s.\-()]")
ADDRESS_PARTS = ("street", "postal_code", "city")
ADDRESS_LABELS = {"street": "Numéro et voie", "postal_code": "Code postal", "city": "Commune"}


# --- fields: coercion with French messages ---------------------------------------------


class TextInput(wtforms.Field):
    """A single string, stripped; '' when absent."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = str(valuelist[0]).strip() if valuelist else ""

    def process_data(self, value: Any) -> None:
        self.data = "" if value is None else str(value)


class NumberInput(wtforms.Field):
    """Decimal comma accepted; None when empty; the raw text is kept for redisplay."""

    def __init__(self, *args: Any, integer: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.integer = integer

    def process_formdata(self, valuelist: list[Any]) -> None:
        raw = str(valuelist[0]).strip() if valuelist else ""
        self.raw_text = raw
        self.data = None
        if not raw:
            return
        try:
            number = float(raw.replace(",", ".").replace(" ", ""))
        except ValueError:
            raise ValueError(NUMBER) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(NUMBER)
        if self.integer and not number.is_integer():
            raise ValueError(INTEGER)
        self.data = int(number) if number.is_integer() else number


class DateInput(wtforms.Field):
    """ISO dates (what <input type=date> posts); dd/mm/yyyy accepted for typed text."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        raw = str(valuelist[0]).strip() if valuelist else ""
        self.raw_text = raw
        self.data = None
        if not raw:
            return
        for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                self.data = dt.datetime.strptime(raw, fmt).date()
                return
            except ValueError:
                continue
        raise ValueError(DATE)


class ChoiceInput(wtforms.Field):
    def __init__(self, *args: Any, values: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.values = frozenset(values)

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = str(valuelist[0]) if valuelist else ""

    def pre_validate(self, form: wtforms.Form) -> None:
        if self.data and self.data not in self.values:
            raise StopValidation(CHOICE)


class MultiChoiceInput(ChoiceInput):
    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = [str(v) for v in valuelist if str(v)]

    def process_data(self, value: Any) -> None:
        self.data = list(value or [])

    def pre_validate(self, form: wtforms.Form) -> None:
        if any(v not in self.values for v in self.data):
            raise StopValidation(CHOICE)


class CheckboxInput(wtforms.Field):
    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = bool(valuelist) and str(valuelist[0]) not in ("", "0", "false")

    def process_data(self, value: Any) -> None:
        self.data = bool(value)


# --- validators ------------------------------------------------------------------------


def _is_empty(data: Any) -> bool:
    return data is None or data == "" or data == [] or data is False


def required(message: str = REQUIRED) -> Callable[[wtforms.Form, wtforms.Field], None]:
    def check(form: wtforms.Form, fld: wtforms.Field) -> None:
        if fld.process_errors:
            raise StopValidation()  # the coercion message is already there
        if _is_empty(fld.data):
            raise StopValidation(message)

    check.field_flags = {"required": True}  # type: ignore[attr-defined]
    return check


def optional() -> Callable[[wtforms.Form, wtforms.Field], None]:
    def check(form: wtforms.Form, fld: wtforms.Field) -> None:
        if fld.process_errors or _is_empty(fld.data):
            raise StopValidation()

    return check


def matches(regex: re.Pattern[str], message: str, normalise: bool = False) -> Any:
    def check(form: wtforms.Form, fld: wtforms.Field) -> None:
        value = _PHONE_JUNK.sub("", fld.data) if normalise else fld.data
        if not regex.match(value):
            raise ValidationError(message)

    return check


def length(min_length: int | None, max_length: int | None) -> Any:
    def check(form: wtforms.Form, fld: wtforms.Field) -> None:
        size = len(fld.data)
        if min_length is not None and size < min_length:
            raise ValidationError(f"Saisissez au moins {min_length} caractères.")
        if max_length is not None and size > max_length:
            raise ValidationError(f"Saisissez au plus {max_length} caractères.")

    return check


def _fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value).replace(".", ",")


def bounds(low: float | None, high: float | None) -> Any:
    def check(form: wtforms.Form, fld: wtforms.Field) -> None:
        if low is not None and fld.data < low:
            raise ValidationError(f"La valeur doit être supérieure ou égale à {_fmt_number(low)}.")
        if high is not None and fld.data > high:
            raise ValidationError(f"La valeur doit être inférieure ou égale à {_fmt_number(high)}.")

    return check


def date_bounds(low: str | None, high: str | None) -> Any:
    def check(form: wtforms.Form, fld: wtforms.Field) -> None:
        today = getattr(form, "today", None) or dt.date.today()
        if low is not None:
            first = rules.resolve_date_bound(low, today)
            if fld.data < first:
                raise ValidationError(f"La date doit être le {first:%d/%m/%Y} ou après.")
        if high is not None:
            last = rules.resolve_date_bound(high, today)
            if fld.data > last:
                raise ValidationError(f"La date doit être le {last:%d/%m/%Y} ou avant.")

    return check


def count_bounds(low: float | None, high: float | None) -> Any:
    def check(form: wtforms.Form, fld: wtforms.Field) -> None:
        if low is not None and len(fld.data) < low:
            raise ValidationError(f"Cochez au moins {count(int(low), 'case')}.")
        if high is not None and len(fld.data) > high:
            raise ValidationError(f"Cochez au plus {count(int(high), 'case')}.")

    return check


# --- building classes ------------------------------------------------------------------


def count(n: int, noun: str) -> str:
    """``n`` ``noun`` in French: "une ligne", "2 lignes" (feminine nouns only)."""
    return f"une {noun}" if n == 1 else f"{n} {noun}s"


def _first(f: Field, message: str = REQUIRED) -> list[Any]:
    return [required(message)] if f.required else [optional()]


def _wtforms_fields(f: Field) -> dict[str, wtforms.Field]:
    """The WTForms fields of one compiled field (address: three inputs)."""
    t = f.type
    if t in ("text", "textarea"):
        checks = [length(f.min_length, f.max_length)]
        if f.pattern:
            checks.append(matches(re.compile(f.pattern), f.pattern_message or PATTERN))
        return {f.id: TextInput(validators=[*_first(f), *checks])}
    if t == "email":
        return {f.id: TextInput(validators=[*_first(f), matches(_EMAIL_RE, EMAIL)])}
    if t == "phone":
        return {f.id: TextInput(validators=[*_first(f), matches(_PHONE_RE, PHONE, True)])}
    if t == "postal_code":
        return {f.id: TextInput(validators=[*_first(f), matches(_POSTAL_RE, POSTAL_CODE)])}
    if t == "number":
        return {f.id: NumberInput(integer=f.integer, validators=[*_first(f), bounds(f.min, f.max)])}
    if t == "date":
        return {f.id: DateInput(validators=[*_first(f), date_bounds(f.date_min, f.date_max)])}
    if t == "choice":
        return {
            f.id: ChoiceInput(
                values=[c.value for c in f.choices], validators=_first(f, REQUIRED_CHOICE)
            )
        }
    if t == "multichoice":
        checks = [count_bounds(f.min, f.max)]
        values = [c.value for c in f.choices]
        return {
            f.id: MultiChoiceInput(values=values, validators=[*_first(f, REQUIRED_BOXES), *checks])
        }
    if t == "checkbox":
        return {f.id: CheckboxInput(validators=_first(f, REQUIRED_BOX))}
    if t == "address":
        return {
            f"{f.id}-street": TextInput(validators=[*_first(f), length(None, 200)]),
            f"{f.id}-postal_code": TextInput(
                validators=[*_first(f), matches(_POSTAL_RE, POSTAL_CODE)]
            ),
            f"{f.id}-city": TextInput(validators=[*_first(f), length(None, 100)]),
        }
    return {}  # heading, paragraph; groups get a class of their own


class _Form(wtforms.Form):
    today: dt.date | None = None


_INPUT_TYPES = {
    "email": 'type="email" spellcheck="false"',
    "phone": 'type="tel"',
    "postal_code": 'type="text" inputmode="numeric" maxlength="5" class="input-short"',
    "date": 'type="date" class="input-date"',
}
STAR = Markup(
    ' <span class="required" aria-hidden="true">*</span>'
    '<span class="visually-hidden"> (obligatoire)</span>'
)


@dataclass(frozen=True, slots=True)
class FieldView:
    """The parts of a field's HTML that never change, built once per compiled step."""

    label: Markup  # the label text and the required marker
    cond: Markup  # ' data-visible-if="..."' or ''
    attrs: Markup  # the input's type and constant attributes


def _input_attrs(f: Field) -> str:
    if f.type in _INPUT_TYPES:
        attrs = _INPUT_TYPES[f.type]
    elif f.type == "number":
        attrs = (
            f'type="text" inputmode="{"numeric" if f.integer else "decimal"}" class="input-short"'
        )
    elif f.type == "textarea":
        attrs = 'rows="5"'
    else:
        attrs = 'type="text"'
    if f.max_length and f.type in ("text", "textarea"):
        attrs += f' maxlength="{f.max_length}"'
    if f.required:
        attrs += ' aria-required="true"'
    return attrs


def _view(f: Field, cond_json: str | None) -> FieldView:
    cond = Markup(' data-visible-if="{}"').format(cond_json) if cond_json else Markup("")
    label = escape(f.label) + (STAR if f.required else "")
    return FieldView(Markup(label), cond, Markup(_input_attrs(f)))


@dataclass(frozen=True)
class StepForm:
    """A compiled step's parsers plus what the templates need (conditions as JSON)."""

    step: Step
    form_class: type[wtforms.Form]
    row_classes: dict[str, type[wtforms.Form]]
    conditions_js: dict[str, str] = field(default_factory=dict)  # "id" or "group.sub"
    external_refs: frozenset[str] = frozenset()  # fields of other steps the conditions read
    views: dict[str, FieldView] = field(default_factory=dict)  # "id" or "group.sub"


def _condition_json(source: str | None, refs: set[str]) -> str | None:
    if not source:
        return None
    expr = conditions.parse(source)
    refs.update(conditions.references(expr))
    return json.dumps(conditions.to_js(expr), separators=(",", ":"))


def build_step_form(step: Step) -> StepForm:
    attrs: dict[str, Any] = {}
    rows: dict[str, type[wtforms.Form]] = {}
    cond: dict[str, str] = {}
    refs: set[str] = set()
    own: set[str] = set()
    views: dict[str, FieldView] = {}
    for f in step.fields:
        own.add(f.id)
        own.update(s.id for s in f.fields)
        js = _condition_json(f.visible_if, refs)
        views[f.id] = _view(f, js)
        if js:
            cond[f.id] = js
        if f.type == "group":
            sub: dict[str, Any] = {}
            for s in f.fields:
                sub.update(_wtforms_fields(s))
                sub_js = _condition_json(s.visible_if, refs)
                views[f"{f.id}.{s.id}"] = _view(s, sub_js)
                if sub_js:
                    cond[f"{f.id}.{s.id}"] = sub_js
            rows[f.id] = type(f"Row_{f.id}", (_Form,), sub)
        else:
            attrs.update(_wtforms_fields(f))
    form_class = type(f"Step_{step.id}", (_Form,), attrs)
    return StepForm(step, form_class, rows, cond, frozenset(refs - own), views)


_CACHE: dict[tuple[str, str], StepForm] = {}


def step_form(proc: Procedure, step: Step) -> StepForm:
    """The cached StepForm of a procedure version's step (built on first use)."""
    key = (proc.version or proc.id, step.id)
    found = _CACHE.get(key)
    if found is None:
        if len(_CACHE) > 2000:  # many reloads: drop old versions rather than grow forever
            _CACHE.clear()
        found = _CACHE[key] = build_step_form(step)
    return found


# --- the applicant ("Mes informations") is a step like the others -----------------------

CIVILITES = (Choice("Madame", "Madame"), Choice("Monsieur", "Monsieur"))
APPLICANT_STEP = Step(
    id="informations",
    title="Mes informations",
    fields=(
        Field(id="civilite", type="choice", label="Civilité", choices=CIVILITES),
        Field(id="nom", type="text", label="Nom", required=True, max_length=100),
        Field(id="prenom", type="text", label="Prénom", required=True, max_length=100),
        Field(
            id="naissance",
            type="date",
            label="Date de naissance",
            help="Facultative.",
            date_min="1900-01-01",
            date_max="today",
        ),
        Field(id="adresse", type="address", label="Adresse", required=True),
        Field(
            id="courriel",
            type="email",
            label="Courriel",
            required=True,
            help="L'accusé de réception de votre demande vous sera envoyé à cette adresse.",
        ),
        Field(id="telephone", type="phone", label="Téléphone", help="Exemple : 06 12 34 56 78"),
    ),
)
APPLICANT_FORM = build_step_form(APPLICANT_STEP)
AUTOCOMPLETE = {
    "civilite": "honorific-prefix",
    "nom": "family-name",
    "prenom": "given-name",
    "naissance": "bday",
    "courriel": "email",
    "telephone": "tel",
}


# --- parsing ---------------------------------------------------------------------------


@dataclass
class Parsed:
    """Values of one step (stored shapes, or the raw text where coercion failed) and errors.

    ``shown``: the visibility of the other steps' values with this step's (None for the
    applicant, who has no conditions). Hidden values of the step read as empty in it, so it
    is also the visibility of the draft once the step's kept values are stored.
    """

    values: dict[str, Any]
    errors: dict[str, str]  # html id -> message, in page order
    action: tuple[str, str, int] | None = None  # ("add"|"remove", group id, row)
    shown: rules.Visibility | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.action is None


def html_id(name: str) -> str:
    return "f-" + name


def _value_of(form: wtforms.Form, f: Field) -> Any:
    if f.type == "address":
        return {p: form[f"{f.id}-{p}"].data or "" for p in ADDRESS_PARTS}
    fld = form[f.id]
    if fld.process_errors:
        return getattr(fld, "raw_text", "")
    if f.type == "date":
        return fld.data.isoformat() if fld.data else ""
    return fld.data


def _validate(form: wtforms.Form, f: Field, prefix: str, errors: dict[str, str]) -> None:
    names = [f"{f.id}-{p}" for p in ADDRESS_PARTS] if f.type == "address" else [f.id]
    for name in names:
        fld = form[name]
        if not fld.validate(form):
            errors[html_id(prefix + name)] = fld.errors[0]


def _row_count(formdata: Any, g: Field) -> int:
    try:
        count = int(formdata.get(f"{g.id}-rows", g.min_items))
    except (TypeError, ValueError):
        count = g.min_items
    return max(0, min(count, g.max_items))


def _group_action(formdata: Any, g: Field, count: int) -> tuple[str, str, int] | None:
    if f"_add_{g.id}" in formdata:
        return ("add", g.id, count)
    for n in range(count):
        if f"_remove_{g.id}_{n}" in formdata:
            return ("remove", g.id, n)
    return None


def _parse_rows(
    sf: StepForm, g: Field, formdata: Any, today: dt.date
) -> tuple[list[dict[str, Any]], list[wtforms.Form], tuple[str, str, int] | None]:
    count = _row_count(formdata, g)
    rows: list[dict[str, Any]] = []
    forms = []
    for n in range(count):
        row_form = sf.row_classes[g.id](formdata, prefix=f"{g.id}-{n}-")
        row_form.today = today
        forms.append(row_form)
        rows.append({s.id: _value_of(row_form, s) for s in g.fields if s.holds_value})
    return rows, forms, _group_action(formdata, g, count)


def parse_step(
    proc: Procedure, sf: StepForm, formdata: Any, earlier: Mapping[str, Any], today: dt.date
) -> Parsed:
    """Parse and validate one step; hidden fields are neither validated nor kept.

    ``earlier`` holds the values of the other steps (conditions may read them).
    """
    form = sf.form_class(formdata)
    form.today = today
    values: dict[str, Any] = {}
    row_forms: dict[str, list[wtforms.Form]] = {}
    action = None
    for f in sf.step.fields:
        if f.type == "group":
            values[f.id], row_forms[f.id], row_action = _parse_rows(sf, f, formdata, today)
            action = action or row_action
        elif f.holds_value:
            values[f.id] = _value_of(form, f)
    visibility = _visibility(proc, sf.step, {**earlier, **values})
    shown = values if visibility is None else visibility.values
    if action is not None:  # a row added or removed: redisplay, no validation yet
        return Parsed(values, {}, action, visibility)
    errors: dict[str, str] = {}
    for f in sf.step.fields:
        if not f.holds_value or not rules.field_visible(f, shown):
            continue
        if f.type != "group":
            _validate(form, f, "", errors)
            continue
        for n, row_form in enumerate(row_forms[f.id]):
            for s in f.fields:
                if s.holds_value and rules.field_visible(s, shown, row=values[f.id][n]):
                    _validate(row_form, s, f"{f.id}-{n}-", errors)
        if len(values[f.id]) < f.min_items:
            errors[html_id(f"{f.id}-add")] = f"Ajoutez au moins {count(f.min_items, 'ligne')}."
    kept = {f.id: shown[f.id] for f in sf.step.fields if f.id in shown}
    return Parsed(kept, errors, None, visibility)


def _visibility(proc: Procedure, step: Step, values: dict[str, Any]) -> rules.Visibility | None:
    """What ``values`` show; None for the applicant step, which has no conditions."""
    if step is APPLICANT_STEP:
        return None
    return rules.visibility(proc, values)


def apply_action(values: dict[str, Any], step: Step, action: tuple[str, str, int]) -> None:
    """Add or remove a group row (the no-JavaScript buttons)."""
    kind, group_id, n = action
    group = next(f for f in step.fields if f.id == group_id)
    rows = list(values.get(group_id) or [])
    if kind == "add" and len(rows) < group.max_items:
        rows.append({})
    elif kind == "remove" and 0 <= n < len(rows):
        rows.pop(n)
    values[group_id] = rows


# --- stored values back to form data (re-validation at submission) --------------------


class FormValues:
    """A minimal multidict over stored values, so stored drafts validate like posts."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._data: dict[str, list[str]] = {}
        for key, value in pairs:
            self._data.setdefault(key, []).append(value)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Any:
        return iter(self._data)

    def get(self, key: str, default: Any = None) -> Any:
        found = self._data.get(key)
        return found[0] if found else default

    def getlist(self, key: str) -> list[str]:
        return list(self._data.get(key, []))


def _pairs(f: Field, value: Any, prefix: str) -> list[tuple[str, str]]:
    name = prefix + f.id
    if value is None or value == "":
        return []
    if f.type == "address" and isinstance(value, dict):
        return [(f"{name}-{p}", str(value.get(p, ""))) for p in ADDRESS_PARTS]
    if f.type == "multichoice":
        return [(name, str(v)) for v in value or []]
    if f.type == "checkbox":
        return [(name, "1")] if value else []
    if f.type == "group":
        out = [(f"{name}-rows", str(len(value or [])))]
        for n, row in enumerate(value or []):
            for s in f.fields:
                out += _pairs(s, (row or {}).get(s.id), f"{name}-{n}-")
        return out
    return [(name, str(value))]


def as_formdata(step: Step, values: Mapping[str, Any]) -> FormValues:
    pairs: list[tuple[str, str]] = []
    for f in step.fields:
        if f.holds_value:
            pairs += _pairs(f, values.get(f.id), "")
    return FormValues(pairs)
