"""Jinja2 environment and ``render``: one environment per app, built once.

Globals available in every template: ``portal``, ``request``, ``url_for``, ``static_url``,
``csrf_input()``, ``csrf_token()``, ``markdown(text)``, ``icon(name)``; filters ``date_fr``,
``datetime_fr``, ``date_range_fr``.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from renderer import security, text

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
    )
    env.filters.update(
        date_fr=text.date_fr,
        datetime_fr=text.datetime_fr,
        date_range_fr=text.date_range_fr,
    )
    return env


def render(
    request: Request,
    template_name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template_name`` with the portal and the request in its context."""
    state = request.app.state
    env: jinja2.Environment = state.templates
    values: dict[str, Any] = {"request": request, "portal": state.pack.portal, "pack": state.pack}
    if context:
        values.update(context)
    html = env.get_template(template_name).render(values)
    return HTMLResponse(html, status_code=status_code, headers=headers)
