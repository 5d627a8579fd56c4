"""The personal space's doors: /connexion and /inscription.

Accounts come with the personal-space issue. Until then a locked procedure's page still
offers "Se connecter" and "Je crée mon espace" (the seed portal's words), and both links
lead here: a page that says the personal space is not open yet and how to reach the town
hall instead, never a 404. ``suite`` (the page to come back to) is kept only when it is a
path of this portal.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from renderer.templating import render

TITLES = {"login": "Se connecter", "signup": "Créer mon espace personnel"}


def local_path(value: str) -> str | None:
    """``value`` if it is a path of this portal (``/...``, not ``//host`` nor ``/\\host``)."""
    if value.startswith("/") and not value.startswith(("//", "/\\")) and len(value) <= 500:
        return value
    return None


async def _door(request: Request, kind: str) -> Response:
    back = local_path(request.query_params.get("suite", ""))
    context = {"title": TITLES[kind], "back": back}
    return render(request, "citizen/account_soon.html", context)


async def login(request: Request) -> Response:
    return await _door(request, "login")


async def signup(request: Request) -> Response:
    return await _door(request, "signup")


routes: list[BaseRoute] = [
    Route("/connexion", login, name="login"),
    Route("/inscription", signup, name="signup"),
]
