"""IndexedRouter chooses what Starlette's Router chooses, for any path and method."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from renderer.app import collect_routes
from renderer.routing import IndexedRouter, shape_of


def _echo(name: str) -> Any:
    async def endpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"{name} {sorted(request.path_params.items())}")

    return endpoint


def _asgi(name: str) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse(f"{name} {scope['path']}")(scope, receive, send)

    return app


def _mirror() -> list[BaseRoute]:
    """The portal's route table with endpoints that say which route answered."""
    routes: list[BaseRoute] = []
    for route in collect_routes():
        if isinstance(route, Route):
            methods = sorted(route.methods or ()) or None
            routes.append(Route(route.path, _echo(route.path), methods=methods))
        elif isinstance(route, Mount):
            routes.append(Mount(route.path, app=_asgi("mount " + route.path)))
    # Shapes the portal does not use yet: a parameter first, a path convertor.
    routes.append(Route("/{page}/plan", _echo("/{page}/plan")))
    routes.append(Route("/docs/{rest:path}", _echo("/docs/{rest:path}")))
    return routes


def _client(router_class: type[Router]) -> TestClient:
    app = Starlette()
    app.router = router_class(_mirror())
    return TestClient(app, follow_redirects=False)


PLAIN = _client(Router)
INDEXED = _client(IndexedRouter)
SEGMENTS = ["demarches", "theme", "etapes", "acte", "suivi", "annuler", "pieces", "static"]
SEGMENTS += ["css", "plan", "docs", "recherche", "actualites", "x", "logo", "theme.css"]


def _same(method: str, path: str) -> None:
    plain = PLAIN.request(method, path)
    indexed = INDEXED.request(method, path)
    assert (indexed.status_code, indexed.text) == (plain.status_code, plain.text), path
    assert indexed.headers.get("location") == plain.headers.get("location"), path


def test_the_portal_paths_reach_the_same_routes() -> None:
    paths = [
        "/",
        "/demarches",
        "/demarches/",
        "/demarches/theme/ecole",
        "/demarches/acte-naissance",
        "/demarches/acte-naissance/etapes/demande-acte",
        "/demarches/acte-naissance/confirmation",
        "/suivi/abc",
        "/suivi/abc/annuler",
        "/suivi/abc/pieces/3",
        "/static/css/guichet.css",
        "/static",
        "/accueil/plan",
        "/docs/a/b/c",
        "/inconnu",
        "/demarches/a/b/c/d/e/f/g/h/i/j",
    ]
    for path in paths:
        for method in ("GET", "HEAD", "POST", "PUT"):
            _same(method, path)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6),
    st.sampled_from(["GET", "POST", "DELETE"]),
    st.booleans(),
)
def test_any_path_reaches_the_same_route(segments: list[str], method: str, slash: bool) -> None:
    _same(method, "/" + "/".join(segments) + ("/" if slash else ""))


def test_shape_of() -> None:
    assert shape_of("/") == ("", 1)
    assert shape_of("/demarches/acte/etapes/acte") == ("demarches", 4)


def test_unknown_first_segments_are_not_cached() -> None:
    router = IndexedRouter(_mirror())
    for i in range(50):
        router.candidates((f"inconnu-{i}", 2))
    found = router.candidates(("demarches", 4))
    assert list(router._candidates) == [("demarches", 4)]
    # A form step is looked for among the one route of its shape, not all of them.
    assert [getattr(r, "path", "") for r in found] == ["/demarches/{procedure_id}/etapes/{step}"]
    assert [getattr(r, "path", "") for r in router.candidates(("docs", 5))] == ["/docs/{rest:path}"]
