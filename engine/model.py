"""The compiled model: frozen dataclasses built once from a validated pack.

Nothing here reads files or knows about YAML; ``engine.compiler`` builds these objects from
plain dicts (the validated, layered YAML). Every procedure carries ``version``: the hash of its
snapshot (see ``engine.snapshot``), which is what a request stores and renders with later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

FieldType = Literal[
    "text",
    "textarea",
    "email",
    "phone",
    "number",
    "date",
    "choice",
    "multichoice",
    "checkbox",
    "address",
    "postal_code",
    "heading",
    "paragraph",
    "group",
]
# Field types that only display text and never hold a value.
DISPLAY_TYPES: frozenset[str] = frozenset({"heading", "paragraph"})

QuotaPeriod = Literal["total", "year", "month", "week", "day"]
QuotaScope = Literal["portal", "account"]
AppointmentMode = Literal["none", "optional", "required"]
Actor = Literal["agent", "citizen", "system"]


@dataclass(frozen=True, slots=True)
class Source:
    """Where an item was defined: its file and the pack layer that file belongs to."""

    file: str
    layer: str


@dataclass(frozen=True, slots=True)
class Address:
    street: str = ""
    postal_code: str = ""
    city: str = ""


@dataclass(frozen=True, slots=True)
class Contact:
    email: str = ""
    phone: str = ""
    hours: str = ""
    website: str = ""


@dataclass(frozen=True, slots=True)
class Colours:
    primary: str = "#000091"
    secondary: str = "#e1000f"


@dataclass(frozen=True, slots=True)
class Limits:
    storage_pieces: int = 10
    files_per_piece: int = 4
    max_file_size_mb: int = 10
    accepted_types: tuple[str, ...] = ("pdf", "jpeg", "png")


@dataclass(frozen=True, slots=True)
class Theme:
    id: str
    label: str
    icon: str = ""
    order: int = 0
    source: Source | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Portal:
    name: str
    address: Address = Address()
    contact: Contact = Contact()
    logo: str = ""
    colours: Colours = Colours()
    welcome: str = ""
    themes: tuple[Theme, ...] = ()
    featured: tuple[str, ...] = ()
    limits: Limits = Limits()
    source: Source | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class DocumentType:
    id: str
    label: str
    help: str = ""
    max_files: int = 4
    accepted_types: tuple[str, ...] = ()  # empty: the portal's accepted types
    source: Source | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class OpeningHours:
    weekday: int  # 0 = Monday
    start: dt.time
    end: dt.time


@dataclass(frozen=True, slots=True)
class Agenda:
    id: str
    label: str
    place: str = ""
    slot_minutes: int = 15
    capacity: int = 1
    opening_hours: tuple[OpeningHours, ...] = ()
    closed_dates: tuple[dt.date, ...] = ()
    book_ahead_days: int = 60
    min_notice_hours: int = 24
    source: Source | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    label: str
    email: str = ""
    source: Source | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Notification:
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class State:
    id: str
    label: str  # what the citizen reads
    final: bool = False
    citizen_can_cancel: bool = False
    notify: Notification | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    id: str
    label: str
    sources: tuple[str, ...]  # the YAML key is `from`
    target: str  # the YAML key is `to`
    by: tuple[Actor, ...] = ("agent",)


@dataclass(frozen=True, slots=True)
class Workflow:
    id: str
    label: str
    initial: str
    states: tuple[State, ...]
    transitions: tuple[Transition, ...] = ()
    cancel_to: str | None = None  # the final state a citizen's cancellation leads to
    source: Source | None = field(default=None, compare=False)

    def state(self, state_id: str) -> State:
        for state in self.states:
            if state.id == state_id:
                return state
        raise KeyError(state_id)


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class Field:
    id: str
    type: FieldType
    label: str = ""
    help: str = ""
    required: bool = False
    visible_if: str | None = None
    # text-like validations
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    pattern_message: str | None = None
    # number bounds
    min: float | None = None
    max: float | None = None
    integer: bool = False
    # date bounds, already resolved to a rule: an ISO date, "today", or "today+/-N days|years"
    date_min: str | None = None
    date_max: str | None = None
    # choice and multichoice
    choices: tuple[Choice, ...] = ()
    display: Literal["radio", "select", "checkboxes"] = "radio"
    # heading and paragraph
    text: str = ""
    # group: repeatable rows of sub-fields
    fields: tuple[Field, ...] = ()
    min_items: int = 0
    max_items: int = 10
    add_label: str = "Ajouter"

    @property
    def holds_value(self) -> bool:
        return self.type not in DISPLAY_TYPES


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    title: str
    intro: str = ""
    visible_if: str | None = None
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True, slots=True)
class DocumentRequirement:
    type: DocumentType  # resolved: the snapshot embeds the document type itself
    required: bool = False
    visible_if: str | None = None
    help: str = ""  # extra help for this procedure, shown after the type's own help


@dataclass(frozen=True, slots=True)
class Access:
    requires_account: bool = False  # the padlock
    activation_key: bool = False  # only accounts activated with a key from the service
    family_only: bool = False  # only for a family member of the account


@dataclass(frozen=True, slots=True)
class OpenWindow:
    start: dt.datetime | None = None  # YAML `from`; a date means 00:00 that day (Europe/Paris)
    end: dt.datetime | None = None  # YAML `until`; a date means the end of that day


@dataclass(frozen=True, slots=True)
class Quota:
    max: int
    per: QuotaPeriod = "total"
    scope: QuotaScope = "portal"
    message: str = "Le nombre maximum de demandes est atteint."


@dataclass(frozen=True, slots=True)
class Appointment:
    mode: AppointmentMode = "none"
    agenda: str | None = None


@dataclass(frozen=True, slots=True)
class Exchanges:
    enabled: bool = False
    citizen_can_start: bool = False


@dataclass(frozen=True, slots=True)
class Procedure:
    id: str
    title: str
    theme: str
    service: str
    summary: str = ""
    keywords: tuple[str, ...] = ()
    help: str = ""  # "aide à la saisie", Markdown
    max_duration: str = ""  # e.g. "10 minutes"
    access: Access = Access()
    open: OpenWindow = OpenWindow()
    quota: Quota | None = None
    appointment: Appointment = Appointment()
    exchanges: Exchanges = Exchanges()
    documents: tuple[DocumentRequirement, ...] = ()
    steps: tuple[Step, ...] = ()
    workflow: Workflow | None = None  # resolved: the snapshot embeds the workflow
    acknowledgement: str = ""
    version: str = ""
    source: Source | None = field(default=None, compare=False)
    # The snapshot the procedure was built from (``engine.snapshot``; its hash is
    # ``version``), kept so that storage saves it without rebuilding it; empty for a
    # procedure built by hand.
    snapshot: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def fields_by_id(self) -> dict[str, Field]:
        """Every value-holding top-level field of every step, by id (ids are pack-unique)."""
        return {f.id: f for s in self.steps for f in s.fields if f.holds_value}


@dataclass(frozen=True, slots=True)
class NewsItem:
    """A news item (`kind: news`) or a practical-information page (`kind: info`)."""

    id: str
    kind: Literal["news", "info"]
    title: str
    category: str
    body: str  # Markdown, rendered safely by the renderer
    date: dt.date | None = None
    public: bool = True  # False: only for citizens logged in to their space
    publish_from: dt.date | None = None
    publish_until: dt.date | None = None
    summary: str = ""
    source: Source | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Pack:
    """The whole compiled definition set the portal serves."""

    portal: Portal
    document_types: Mapping[str, DocumentType]
    agendas: Mapping[str, Agenda]
    services: Mapping[str, Service]
    workflows: Mapping[str, Workflow]
    procedures: Mapping[str, Procedure]
    news: Mapping[str, NewsItem]
    layers: tuple[str, ...] = ()

    @property
    def themes(self) -> dict[str, Theme]:
        return {t.id: t for t in self.portal.themes}
