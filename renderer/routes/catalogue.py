"""The catalogue: home page, procedures by theme, search, a procedure's page, theme CSS, logo.

``availability(request, proc)`` says whether a procedure can be started now (padlock,
opening window, quota); the wizard uses the same function so both always agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from engine import rules
from engine.model import Pack, Procedure, Theme
from renderer import text
from renderer.errors import NotFound
from renderer.routes.news import latest_news
from renderer.submission import PORTAL_SCOPE, quota_claim
from renderer.templating import render
from storage.requests import quota_used, quota_used_many

Status = Literal["open", "locked", "not_yet", "closed", "full"]
LOGO_TYPES = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}


@dataclass(frozen=True, slots=True)
class Availability:
    status: Status
    locked: bool  # the padlock: an account is required
    window: str  # "du 1er mai au 15 juillet 2026", or ""
    message: str  # why it cannot be started, in French; "" when it can

    @property
    def can_start(self) -> bool:
        return self.status == "open"


def window_dates(proc: Procedure) -> tuple[dt.date | None, dt.date | None]:
    """The opening window as the dates a citizen reads (Europe/Paris)."""
    start = proc.open.start.astimezone(text.PARIS).date() if proc.open.start else None
    end = None
    if proc.open.end:
        local = proc.open.end.astimezone(text.PARIS)
        # An end at midnight is exclusive: the last open day is the one before.
        end = local.date() - dt.timedelta(days=1) if local.time() == dt.time(0) else local.date()
    return start, end


_WINDOW_TEXTS: dict[tuple[str, str], str] = {}


def window_text(proc: Procedure) -> str:
    """The opening window in French ("du 1er mai au 15 juillet 2026"), or ""; written once
    per procedure version (every wizard page checks the procedure's availability)."""
    key = (proc.id, proc.version)
    found = _WINDOW_TEXTS.get(key)
    if found is None:
        if len(_WINDOW_TEXTS) >= 4096:
            _WINDOW_TEXTS.clear()
        found = _WINDOW_TEXTS[key] = text.date_range_fr(*window_dates(proc))
    return found


async def availability(
    request: Request, proc: Procedure, account_id: int | None = None
) -> Availability:
    """Whether ``proc`` can be started now, and the French message when it cannot."""
    now: dt.datetime = request.app.state.now()
    locked = proc.access.requires_account and account_id is None
    window = window_text(proc)
    status = rules.window_status(proc, now)
    if status == "not_yet":
        return Availability("not_yet", locked, window, f"Cette démarche sera ouverte {window}.")
    if status == "closed":
        return Availability("closed", locked, window, f"Cette démarche était ouverte {window}.")
    if locked:
        return Availability("locked", True, window, "Cette démarche nécessite un espace personnel.")
    claim = quota_claim(proc, now, account_id)
    if claim is not None and proc.quota is not None:
        used = await quota_used(request.app.state.db, proc.id, claim.period_key, claim.scope_key)
        if used >= claim.max:
            return Availability("full", locked, window, proc.quota.message)
    return Availability("open", locked, window, "")


# --- theme colours ------------------------------------------------------------------------


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def darken_until_readable(colour: str, background: str = "#ffffff", ratio: float = 4.5) -> str:
    """``colour``, darkened step by step until it reaches ``ratio`` against ``background``."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    current = colour
    while contrast(current, background) < ratio and (r or g or b):
        r, g, b = (int(v * 0.9) for v in (r, g, b))
        current = f"#{r:02x}{g:02x}{b:02x}"
    return current


def theme_stylesheet_text(primary: str, secondary: str) -> str:
    """CSS custom properties from the commune's colours, kept at WCAG AA contrast on white."""
    primary_text = darken_until_readable(primary)
    secondary_text = darken_until_readable(secondary)
    on_primary = "#ffffff" if contrast(primary_text, "#ffffff") >= 4.5 else "#000000"
    return (
        ":root {\n"
        f"  --primary: {primary_text};\n"
        f"  --on-primary: {on_primary};\n"
        f"  --secondary: {secondary_text};\n"
        f"  --accent: {secondary};\n"
        "}\n"
    )


# --- catalogue helpers -------------------------------------------------------------------


def sorted_themes(pack: Pack) -> list[Theme]:
    return sorted(pack.portal.themes, key=lambda t: (t.order, text.normalise(t.label)))


def procedures_of(pack: Pack, theme_id: str) -> list[Procedure]:
    procs = [p for p in pack.procedures.values() if p.theme == theme_id]
    return sorted(procs, key=lambda p: text.normalise(p.title))


def themes_with_procedures(pack: Pack) -> list[tuple[Theme, list[Procedure]]]:
    groups = [(theme, procedures_of(pack, theme.id)) for theme in sorted_themes(pack)]
    return [(theme, procs) for theme, procs in groups if procs]


@dataclass(frozen=True, slots=True)
class Badge:
    kind: str  # CSS modifier: "closed" or "full"
    label: str


CLOSED = Badge("closed", "Fermée")
FULL = Badge("full", "Complet")


async def badges(request: Request, procedures: list[Procedure]) -> dict[str, Badge]:
    """The badges of a list of procedure cards: "Fermée" outside the opening window,
    "Complet" when a quota shared by everyone (scope ``portal``) is reached.

    All the counters of the list are read in one query. A quota counted per account says
    nothing about the next citizen: its procedure gets no badge (its page tells each one).
    """
    now: dt.datetime = request.app.state.now()
    found: dict[str, Badge] = {}
    counters: dict[str, tuple[str, int]] = {}  # procedure id -> (period key, max)
    for proc in procedures:
        if rules.window_status(proc, now) != "open":
            found[proc.id] = CLOSED
        elif (claim := quota_claim(proc, now)) and claim.scope_key == PORTAL_SCOPE:
            counters[proc.id] = (claim.period_key, claim.max)
    if counters:
        wanted = [(pid, key) for pid, (key, _) in counters.items()]
        used = await quota_used_many(request.app.state.db, wanted, PORTAL_SCOPE)
        for pid, (key, most) in counters.items():
            if used[(pid, key)] >= most:
                found[pid] = FULL
    return found


def get_procedure(request: Request, procedure_id: str) -> Procedure:
    proc = request.app.state.pack.procedures.get(procedure_id)
    if proc is None:
        raise NotFound()
    return proc


@dataclass(frozen=True, slots=True)
class SearchEntry:
    procedure: Procedure
    title: str  # normalised
    haystack: str  # normalised title + summary + keywords


_index_cache: list[tuple[Pack, list[SearchEntry]]] = []


def search_index(pack: Pack) -> list[SearchEntry]:
    """Normalised search texts, built once per pack (a reload brings a new pack)."""
    if _index_cache and _index_cache[0][0] is pack:
        return _index_cache[0][1]
    entries = []
    for proc in pack.procedures.values():
        parts = [proc.title, proc.summary, *proc.keywords]
        haystack = " " + text.normalise(" ".join(parts)) + " "
        entries.append(SearchEntry(proc, text.normalise(proc.title), haystack))
    _index_cache[:] = [(pack, entries)]
    return entries


def search(pack: Pack, query: str) -> list[Procedure]:
    """Procedures whose texts hold every word of ``query`` (accents and case ignored).

    Title matches come first, then the rest, each alphabetically.
    """
    words = text.terms(query)
    if not words:
        return []
    found = [e for e in search_index(pack) if all(w in e.haystack for w in words)]
    found.sort(key=lambda e: (not all(w in e.title for w in words), e.title))
    return [e.procedure for e in found]


# --- pages -------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    pack: Pack = request.app.state.pack
    featured = [pack.procedures[i] for i in pack.portal.featured if i in pack.procedures]
    context = {
        "themes": [(t, len(procs)) for t, procs in themes_with_procedures(pack)],
        "featured": featured,
        "badges": await badges(request, featured),
        "news": latest_news(request, 3),
        "infos": latest_news(request, 6, kind="info"),
    }
    return render(request, "citizen/home.html", context)


async def all_procedures(request: Request) -> Response:
    pack: Pack = request.app.state.pack
    marks = await badges(request, list(pack.procedures.values()))
    context = {"groups": themes_with_procedures(pack), "badges": marks}
    return render(request, "citizen/catalogue.html", context)


async def theme_page(request: Request) -> Response:
    pack: Pack = request.app.state.pack
    theme = pack.themes.get(request.path_params["theme"])
    if theme is None:
        raise NotFound()
    procedures = procedures_of(pack, theme.id)
    marks = await badges(request, procedures)
    context = {"theme": theme, "procedures": procedures, "badges": marks}
    return render(request, "citizen/theme.html", context)


async def search_page(request: Request) -> Response:
    query = request.query_params.get("q", "")[:200].strip()
    results = search(request.app.state.pack, query) if query else []
    context = {"query": query, "results": results, "badges": await badges(request, results)}
    return render(request, "citizen/search.html", context)


async def procedure_page(request: Request) -> Response:
    proc = get_procedure(request, request.path_params["procedure_id"])
    pack: Pack = request.app.state.pack
    context = {
        "procedure": proc,
        "theme": pack.themes.get(proc.theme),
        "service": pack.services.get(proc.service),
        "availability": await availability(request, proc),
    }
    return render(request, "citizen/procedure.html", context)


async def theme_stylesheet(request: Request) -> Response:
    colours = request.app.state.pack.portal.colours
    css = theme_stylesheet_text(colours.primary, colours.secondary)
    return Response(css, media_type="text/css")


def logo_path(pack: Pack) -> Path | None:
    """The logo file: the latest layer that holds the path given in portal.yaml."""
    if not pack.portal.logo:
        return None
    for layer in reversed(pack.layers):
        path = Path(layer) / pack.portal.logo
        if path.is_file() and path.suffix.lower() in LOGO_TYPES:
            return path
    return None


async def logo(request: Request) -> Response:
    path = logo_path(request.app.state.pack)
    if path is None:
        raise NotFound()
    return FileResponse(path, media_type=LOGO_TYPES[path.suffix.lower()])


FAVICON = Path(__file__).resolve().parents[1] / "static" / "favicon.svg"


async def favicon(request: Request) -> Response:
    """/favicon.ico, asked by browsers whatever the pages say: the SVG icon of the pages."""
    return FileResponse(FAVICON, media_type="image/svg+xml")


routes: list[BaseRoute] = [
    Route("/", home, name="home"),
    Route("/demarches", all_procedures, name="procedures"),
    Route("/demarches/theme/{theme}", theme_page, name="theme"),
    Route("/recherche", search_page, name="search"),
    Route("/demarches/{procedure_id}", procedure_page, name="procedure"),
    Route("/theme.css", theme_stylesheet, name="theme_css"),
    Route("/logo", logo, name="logo"),
    Route("/favicon.ico", favicon, name="favicon"),
]
