"""Jinja2 environment and ``render``: one environment per app, built once.

Globals available in every template: ``portal``, ``request``, ``chrome`` (the layout parts
that depend only on the portal, rendered once per app), ``url_for``, ``static_url``,
``csrf_input()``, ``csrf_token()``, ``markdown(text)``, ``icon(name)``,
``breadcrumb(items)``; filters ``date_fr``, ``datetime_fr``, ``date_range_fr``.

Per request, a page renders only what differs between requests: the header, footer and
stylesheet links are rendered once per app (``Chrome``) and breadcrumbs once per trail.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from renderer import security, text

T = TypeVar("T", str, bytes)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
ICONS_DIR = STATIC_DIR / "icons"
DEFAULT_ICON = "demarche"


@lru_cache(maxsize=256)
def static_url(path: str) -> str:
    """``/static/<path>?v=<hash>``: the hash changes with the file, so it may be cached."""
    file = STATIC_DIR / path
    try:
        digest = hashlib.sha256(file.read_bytes()).hexdigest()[:10]
    except OSError:
        return f"/static/{path}"
    return f"/static/{path}?v={digest}"


@lru_cache(maxsize=128)
def icon(name: str | None, label: str = "") -> Markup:
    """An SVG icon of renderer/static/icons inlined (``aria-hidden`` unless labelled)."""
    safe = "".join(c for c in (name or "") if c.isalnum() or c == "-")
    file = ICONS_DIR / f"{safe}.svg"
    if not safe or not file.is_file():
        file = ICONS_DIR / f"{DEFAULT_ICON}.svg"
    svg = file.read_text().strip()
    if label:
        attrs = f'role="img" aria-label="{escape(label)}"'
    else:
        attrs = 'aria-hidden="true" focusable="false"'
    return Markup(
        svg.replace("<svg ", f'<svg class="icon icon-{safe or DEFAULT_ICON}" {attrs} ', 1)
    )


_CRUMBS: dict[tuple[tuple[Any, Any], ...], Markup] = {}


def breadcrumb(items: Any) -> Markup:
    """The breadcrumb of (label, url) pairs, the last one the current page (cached)."""
    key = tuple((label, url) for label, url in items)
    found = _CRUMBS.get(key)
    if found is not None:
        return found
    lines = ['<nav class="breadcrumb" aria-label="Vous êtes ici">', "  <ol>"]
    for n, (label, url) in enumerate(key):
        if n == len(key) - 1:
            lines.append(f'    <li><span aria-current="page">{escape(label)}</span></li>')
        else:
            lines.append(f'    <li><a href="{escape(url)}">{escape(label)}</a></li>')
    lines += ["  </ol>", "</nav>", ""]
    html = Markup("\n".join(lines))
    if len(_CRUMBS) > 4096:  # bounded: trails include procedure and news titles
        _CRUMBS.clear()
    _CRUMBS[key] = html
    return html


class Chrome:
    """The layout parts that depend only on the portal, rendered once per app."""

    def __init__(self, env: jinja2.Environment, portal: Any) -> None:
        module = env.get_template("_chrome.html").make_module({"portal": portal})
        self._module = module
        self._portal = portal
        self._headers: dict[str, Markup] = {}
        self.styles = Markup(module.styles(portal))  # type: ignore[attr-defined]
        self.footer = Markup(module.footer(portal))  # type: ignore[attr-defined]

    def header(self, nav: str) -> Markup:
        """The site header, with ``aria-current`` on the ``nav`` entry."""
        found = self._headers.get(nav)
        if found is None:
            found = Markup(self._module.header(self._portal, nav))  # type: ignore[attr-defined]
            if len(self._headers) < 64:
                self._headers[nav] = found
        return found


def chrome_of(state: Any) -> Chrome:
    """The app's Chrome (built on first use from its environment and portal)."""
    chrome: Chrome | None = getattr(state, "chrome", None)
    if chrome is None:
        chrome = state.chrome = Chrome(state.templates, state.pack.portal)
    return chrome


@jinja2.pass_context
def _url_for(context: Any, name: str, /, **params: Any) -> str:
    request: Request = context["request"]
    return str(request.url_for(name, **params).path)


@jinja2.pass_context
def _csrf_input(context: Any) -> Markup:
    return security.csrf_input(context["request"])


@jinja2.pass_context
def _csrf_token(context: Any) -> str:
    return security.csrf_token(context["request"])


def create_environment(extra_dirs: tuple[Path, ...] = ()) -> jinja2.Environment:
    """The environment of an app; ``extra_dirs`` come first so they can override templates."""
    loader = jinja2.FileSystemLoader([*extra_dirs, TEMPLATES_DIR])
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(["html", "xml", "txt"], default_for_string=True),
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        url_for=_url_for,
        static_url=static_url,
        csrf_input=_csrf_input,
        csrf_token=_csrf_token,
        markdown=text.markdown,
        icon=icon,
        breadcrumb=breadcrumb,
    )
    # Babel formatting costs ~50 µs a call; the same dates come back on every page.
    env.filters.update(
        date_fr=lru_cache(maxsize=4096)(text.date_fr),
        datetime_fr=lru_cache(maxsize=4096)(text.datetime_fr),
        date_range_fr=lru_cache(maxsize=1024)(text.date_range_fr),
    )
    return env


def render_string(request: Request, template_name: str, context: dict[str, Any] | None) -> str:
    """The HTML of ``template_name`` with the portal and the request in its context."""
    state = request.app.state
    env: jinja2.Environment = state.templates
    values: dict[str, Any] = {
        "request": request,
        "portal": state.pack.portal,
        "pack": state.pack,
        "chrome": chrome_of(state),
    }
    if context:
        values.update(context)
    return env.get_template(template_name).render(values)


def render(
    request: Request,
    template_name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template_name`` with the portal and the request in its context."""
    html = render_string(request, template_name, context)
    return HTMLResponse(html, status_code=status_code, headers=headers)


class PageCache:
    """Pages rendered once per key with holes for the per-request parts.

    ``fill(key, build, holes)``: on a miss, ``build(marks)`` renders the page with one unique
    marker per hole (``marks[name]``, hole names are word characters); the page is split at
    the markers and kept. Every call then joins the constant parts with ``holes`` (already
    safe for where they go), in the markers' order. A page missing a marker is not cached
    (``fill`` gives None); nor is one repeating a marker, unless ``repeats`` (the
    acknowledgement email shows its reference twice). Bounded: cleared when it holds
    ``limit`` pages. The wizard's cache is one per app (pages embed its portal), stored on
    ``app.state``.
    """

    def __init__(self, limit: int = 2000, *, repeats: bool = False) -> None:
        self.limit = limit
        self.repeats = repeats
        # key -> (constant parts, hole names in order, the parts encoded in UTF-8)
        self._pages: dict[Any, tuple[tuple[str, ...], tuple[str, ...], tuple[bytes, ...]]] = {}
        self._token = secrets.token_hex(8)
        self._mark = re.compile(f"\x00{self._token}:(\\w+)\x00")

    def _split(
        self, key: Any, build: Any, holes: dict[str, str]
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[bytes, ...]] | None:
        found = self._pages.get(key)
        if found is None:
            marks = {name: Markup(f"\x00{self._token}:{name}\x00") for name in holes}
            pieces = self._mark.split(build(marks))
            parts, order = tuple(pieces[0::2]), tuple(pieces[1::2])
            if set(order) != set(holes) or (not self.repeats and len(order) != len(holes)):
                return None
            if len(self._pages) >= self.limit:
                self._pages.clear()
            encoded = tuple(part.encode() for part in parts)
            found = self._pages[key] = (parts, order, encoded)
        return found

    def fill(self, key: Any, build: Any, holes: dict[str, str]) -> str | None:
        """The page for ``key`` with ``holes`` filled; None when the markers were not found once."""
        found = self._split(key, build, holes)
        return None if found is None else "".join(_interleave(found[0], found[1], holes))

    def fill_bytes(self, key: Any, build: Any, holes: dict[str, str]) -> bytes | None:
        """``fill`` as UTF-8: only the holes are encoded per call, not the whole page."""
        found = self._split(key, build, holes)
        if found is None:
            return None
        encoded = {name: value.encode() for name, value in holes.items()}
        return b"".join(_interleave(found[2], found[1], encoded))


def _interleave(parts: Sequence[T], order: Sequence[str], holes: Mapping[str, T]) -> list[T]:
    """``parts[0], holes[order[0]], parts[1], ...``: a page's constant parts and its holes."""
    out = [parts[0]]
    for name, part in zip(order, parts[1:], strict=True):
        out.append(holes[name])
        out.append(part)
    return out


def page_cache(state: Any) -> PageCache:
    cache: PageCache | None = getattr(state, "page_cache", None)
    if cache is None:
        cache = state.page_cache = PageCache()
    return cache
