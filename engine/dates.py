"""Dates of definitions that must exist: calendar dates and date bounds of date fields.

The schema's patterns accept any day from 01 to 31 in any month (a regular expression that
knew February would be unreadable), so `2026-02-30` passes them; the validator then asks the
calendar, here, for the strings the schema knows are dates (``engine.schema``) and for the
bounds of date fields (``engine.crosscheck``). Whatever passes is safe for
``datetime.date.fromisoformat`` and for ``engine.rules.resolve_date_bound``, so the compiler
and the renderer never meet an impossible date.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

# A relative bound may move at most this far from today, in each unit: far enough for any
# form (a birth date 150 years back), near enough that every day it names exists
# (`engine.rules.resolve_date_bound` accepts six digits at most).
MAX_OFFSET = {"day": 366_000, "month": 12_000, "year": 1_000}
_RELATIVE = re.compile(r"^today [+-] ([0-9]+) (day|month|year)s?$")
_SHAPE = re.compile(r"^([0-9]{4})-([0-9]{2})-[0-9]{2}$")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def calendar_problem(text: str) -> tuple[str, str] | None:
    """Message and hint when ``text`` (of the form YYYY-MM-DD, as a rule) names no real day.

    ``None`` when the day exists: the common case costs one ``fromisoformat``.
    """
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return None
    shape = _SHAPE.match(text)
    if shape is None or not 1 <= int(shape.group(2)) <= 12:
        return f"'{text}' is not a date", "write YYYY-MM-DD, e.g. 2026-05-01"
    year, month = int(shape.group(1)), int(shape.group(2))
    if year == 0:
        return f"'{text}' is not a date: there is no year 0", "years start at 0001"
    last = calendar.monthrange(year, month)[1]
    name = f"{_MONTHS[month - 1]} {year}"
    message = f"'{text}' is not a date: {name} has {last} days"
    return message, f"the last day of {name} is {year:04d}-{month:02d}-{last:02d}"


def bound_problem(bound: str) -> tuple[str, str] | None:
    """Message and hint when a date bound of the form the schema accepts cannot be resolved.

    ``bound`` is `YYYY-MM-DD`, `today` or `today ± N days|months|years`: an absolute date must
    exist, a relative one must stay within ``MAX_OFFSET``.
    """
    found = _RELATIVE.match(bound)
    if found is None:
        return None if bound == "today" else calendar_problem(bound)
    count, unit = int(found.group(1)), found.group(2)
    if count <= MAX_OFFSET[unit]:
        return None
    limits = ", ".join(f"{n} {u}s" for u, n in reversed(MAX_OFFSET.items()))
    return f"date bound '{bound}' is too far from today", f"stay within {limits}"
