"""Dates that must exist, and bounds the renderer can use: caught at load with file:line:col.

`2026-02-30` has the schema's form (a pattern cannot know February); before these checks it
crashed the compiler (`_day_start`, agenda closed dates, news) or, as a date field bound,
passed validation and crashed the form at request time.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine import rules
from engine.dates import MAX_OFFSET, bound_problem, calendar_problem
from engine.schema import date_paths
from tests.engine.packs import Pack

PROC = "pack/procedures/acte-naissance.yaml"
HEAD = "title: Acte\ntheme: etat-civil\nservice: etat-civil\n"
STEPS = "steps:\n  - id: acte\n    title: L'acte\n    fields:\n"
OFFSET_HINT = "stay within 1000 years, 12000 months, 366000 days"


@pytest.fixture
def pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pack:
    monkeypatch.chdir(tmp_path)
    return Pack(tmp_path)


def field(pack: Pack, text: str, head: str = "") -> None:
    """acte-naissance.yaml with one field, written on line 8 (column 9 after `- `)."""
    pack.write("procedures/acte-naissance.yaml", HEAD + head + STEPS + f"      - {text}\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2026-02-28", None, id="exists"),
        pytest.param("2024-02-29", None, id="leap-day"),
        pytest.param(
            "2026-02-30",
            (
                "'2026-02-30' is not a date: February 2026 has 28 days",
                "the last day of February 2026 is 2026-02-28",
            ),
            id="february",
        ),
        pytest.param(
            "2026-04-31",
            (
                "'2026-04-31' is not a date: April 2026 has 30 days",
                "the last day of April 2026 is 2026-04-30",
            ),
            id="april",
        ),
        pytest.param(
            "0000-01-01",
            ("'0000-01-01' is not a date: there is no year 0", "years start at 0001"),
            id="year-0",
        ),
        pytest.param(
            "2026-13-01",
            ("'2026-13-01' is not a date", "write YYYY-MM-DD, e.g. 2026-05-01"),
            id="month-13",
        ),
    ],
)
def test_calendar_problem(text: str, expected: tuple[str, str] | None) -> None:
    assert calendar_problem(text) == expected


@pytest.mark.parametrize(
    "bound",
    [
        "today",
        "2026-02-28",
        f"today - {MAX_OFFSET['year']} years",
        f"today + {MAX_OFFSET['month']} months",
        f"today + {MAX_OFFSET['day']} days",
    ],
)
def test_accepted_bounds_resolve(bound: str) -> None:
    assert bound_problem(bound) is None
    for today in (dt.date(2026, 1, 31), dt.date(2999, 12, 31)):
        rules.resolve_date_bound(bound, today)  # no ValueError


@pytest.mark.parametrize(
    "bound", ["today + 1001 years", "today - 12001 months", "today + 9999999 days"]
)
def test_far_bounds_are_problems(bound: str) -> None:
    assert bound_problem(bound) == (f"date bound '{bound}' is too far from today", OFFSET_HINT)


def test_the_schema_date_paths() -> None:
    every = "\x00every"
    assert date_paths("procedure") == [("open", "from"), ("open", "until")]
    assert date_paths("news") == [("date",), ("publish", "from"), ("publish", "until")]
    assert date_paths("agendas") == [(every, "closed_dates", every)]
    assert date_paths("portal") == []


def test_opening_window(pack: Pack) -> None:
    head = "open: {from: 2026-02-30, until: 2026-04-31}\n"
    field(pack, "{id: nom, type: text, label: Nom}", head)
    assert pack.problems() == [
        f"{PROC}:4:8: error: '2026-02-30' is not a date: February 2026 has 28 days "
        "(the last day of February 2026 is 2026-02-28)",
        f"{PROC}:4:26: error: '2026-04-31' is not a date: April 2026 has 30 days "
        "(the last day of April 2026 is 2026-04-30)",
    ]


def test_opening_window_beside_schema_problems(pack: Pack) -> None:
    head = "open: {from: 2026-02-30}\nsumary: x\n"
    field(pack, "{id: nom, type: text, label: Nom}", head)
    assert pack.problems() == [
        f"{PROC}:4:8: error: '2026-02-30' is not a date: February 2026 has 28 days "
        "(the last day of February 2026 is 2026-02-28)",
        f"{PROC}:5:1: error: unknown key 'sumary' in procedure (did you mean 'summary'?)",
    ]


def test_closed_dates_and_news(pack: Pack) -> None:
    pack.write(
        "agendas.yaml",
        """\
        accueil:
          label: Accueil
          opening_hours: {monday: ["09:00-12:00"]}
          closed_dates: [2026-12-25, '2026-11-31']
        """,
    )
    pack.write(
        "news/fete.yaml",
        """\
        title: Fête
        category: Culture
        date: 2025-02-29
        body: Concerts.
        publish: {from: 2025-06-01, until: 2025-06-31}
        """,
    )
    assert pack.problems() == [
        "pack/agendas.yaml:4:30: error: '2026-11-31' is not a date: November 2026 has 30 days "
        "(the last day of November 2026 is 2026-11-30)",
        "pack/news/fete.yaml:3:1: error: '2025-02-29' is not a date: February 2025 has 28 days "
        "(the last day of February 2025 is 2025-02-28)",
        "pack/news/fete.yaml:5:29: error: '2025-06-31' is not a date: June 2025 has 30 days "
        "(the last day of June 2025 is 2025-06-30)",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "{id: d, type: date, label: D, max: 2026-02-31}",
            "8:39: error: '2026-02-31' is not a date: February 2026 has 28 days "
            "(the last day of February 2026 is 2026-02-28)",
            id="impossible-bound",
        ),
        pytest.param(
            "{id: d, type: date, label: D, min: today - 5000 years}",
            f"8:39: error: date bound 'today - 5000 years' is too far from today ({OFFSET_HINT})",
            id="far-bound",
        ),
        pytest.param(
            "{id: n, type: number, label: N, max: 1000000000000000000000000000000}",
            "8:41: error: 'max' is out of range (write a number between -10^15 and 10^15)",
            id="huge-number",
        ),
        pytest.param(
            "{id: n, type: number, label: N, min: -.inf}",
            "8:41: error: 'min' is out of range (write a number between -10^15 and 10^15)",
            id="infinite-number",
        ),
        pytest.param(
            "{id: g, type: group, label: G, max: 1000000, fields: [{id: a, type: text, label: A}]}",
            "8:40: error: 'max' is not a possible number of rows "
            "(write a whole number from 0 to 100)",
            id="group-rows",
        ),
        pytest.param(
            "{id: m, type: multichoice, label: M, choices: [a, b], min: -1}",
            "8:63: error: 'min' is not a possible number of ticked boxes "
            "(write a whole number, at most the number of choices)",
            id="multichoice-negative",
        ),
    ],
)
def test_field_bounds(pack: Pack, text: str, expected: str) -> None:
    field(pack, text)
    assert pack.problems() == [f"{PROC}:{expected}"]


@pytest.mark.parametrize(
    ("low", "high"),
    [("today", "2030-01-01"), ("2000-01-01", "today - 18 years"), ("today - 1 year", "today")],
)
def test_relative_and_absolute_bounds_are_not_ordered(pack: Pack, low: str, high: str) -> None:
    field(pack, f"{{id: d, type: date, label: D, min: '{low}', max: '{high}'}}")
    assert pack.problems() == []


def test_a_valid_pack_with_dates_compiles(pack: Pack) -> None:
    field(
        pack,
        "{id: d, type: date, label: D, min: 1900-01-01, max: today + 1000 years}",
        "open: {from: 2024-02-29, until: 9999-12-31}\n",
    )
    result = pack.validate()
    assert result.problems == []
    assert result.pack is not None
    procedure = result.pack.procedures["acte-naissance"]
    assert procedure.open.start == dt.datetime(2024, 2, 29, tzinfo=rules.PARIS)
    assert procedure.steps[0].fields[0].date_max == "today + 1000 years"
