"""Text helpers for pages: safe Markdown, search normalisation, French dates.

Markdown comes from definition files (edited by admins, reviewed in git) but is still treated
as untrusted: raw HTML is escaped by the parser and the output is cleaned again by nh3 (no
script, no ``on*`` attributes, no ``javascript:`` links).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from functools import lru_cache
from zoneinfo import ZoneInfo

import nh3
from babel.dates import format_date
from markdown_it import MarkdownIt
from markupsafe import Markup

PARIS = ZoneInfo("Europe/Paris")

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_md.enable("table")
_md.enable("strikethrough")

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "s", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto", "tel"}


@lru_cache(maxsize=2048)
def markdown_to_html(source: str) -> str:
    """Markdown -> clean HTML. Headings move down one level: the page owns its ``<h1>``."""
    tokens = _md.parse(source or "")
    for token in tokens:
        if token.type in {"heading_open", "heading_close"}:
            level = int(token.tag[1])
            token.tag = f"h{min(level + 1, 6)}"
    html = _md.renderer.render(tokens, _md.options, {})
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def markdown(source: str | None) -> Markup:
    """Safe HTML for a template (already cleaned, so it is marked safe)."""
    return Markup(markdown_to_html(source or ""))


_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalise(text: str) -> str:
    """Lowercase, accents removed, punctuation to spaces: "l'École" -> "l ecole"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    bare = bare.replace("œ", "oe").replace("æ", "ae")
    return _NON_WORD.sub(" ", bare).strip()


def terms(query: str) -> list[str]:
    """The normalised words of a search query."""
    return normalise(query).split()


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(PARIS)
        return value.date()
    return value


def date_fr(value: dt.date | dt.datetime | None, with_year: bool = True) -> str:
    """``1er mai 2026``, ``15 juillet 2026`` (French ordinal for the first of the month)."""
    if value is None:
        return ""
    day = _as_date(value)
    text = format_date(day, "d MMMM y" if with_year else "d MMMM", locale="fr_FR")
    if day.day == 1:
        text = "1er" + text[1:]
    return text


def time_fr(value: dt.time | dt.datetime) -> str:
    """``14 h 30``, ``9 h 05``, ``18 h`` (French typographic usage, not ``14:30``)."""
    if value.minute == 0:
        return f"{value.hour} h"
    return f"{value.hour} h {value.minute:02d}"


def datetime_fr(value: dt.datetime | None) -> str:
    """``1er mai 2026 à 14 h 30`` in Europe/Paris."""
    if value is None:
        return ""
    local = value.astimezone(PARIS) if value.tzinfo else value.replace(tzinfo=PARIS)
    return f"{date_fr(local)} à {time_fr(local)}"


def date_range_fr(start: dt.date | None, end: dt.date | None) -> str:
    """``du 1er mai au 15 juillet 2026``; ``à partir du 1er mai 2026``; ``jusqu'au ...``."""
    if start and end:
        same_year = start.year == end.year
        return f"du {date_fr(start, with_year=not same_year)} au {date_fr(end)}"
    if start:
        return f"à partir du {date_fr(start)}"
    if end:
        return f"jusqu'au {date_fr(end)}"
    return ""
