"""A Starlette router that finds the routes a path can match by its shape.

Starlette's ``Router`` tries every route's regular expression in order for every request
(18 routes here: a tenth of a form page's time in the app). ``IndexedRouter`` first keeps
the routes that can match a path of that first segment and that number of segments, in
their original order, and tries only those. The first route that fully matches is the one
Starlette would have chosen, since every route that could match is among the candidates.
Anything else (a method not allowed, a trailing slash to redirect, a 404, lifespan) goes to
Starlette's own loop, unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send

Shape = tuple[str, int]  # (first segment, number of segments)
MAX_CACHED_SEGMENTS = 8


def shape_of(path: str) -> Shape:
    """``/demarches/acte/etapes/acte`` -> ("demarches", 4); ``/`` -> ("", 1)."""
    segments = path[1:].split("/")
    return segments[0], len(segments)


def _route_shape(route: BaseRoute) -> tuple[str | None, int | None]:
    """(literal first segment or None, exact segment count or None) of what ``route`` matches."""
    path = getattr(route, "path", None)
    if not isinstance(path, str) or not path.startswith("/"):
        return None, None
    first, count = shape_of(path)
    literal = first if "{" not in first else None
    # Only a Route whose parameters are single segments matches a fixed number of them.
    exact = isinstance(route, Route) and ":path}" not in path
    return literal, count if exact else None


class IndexedRouter(Router):
    """``Router`` with the candidate routes of each path shape computed once."""

    def __init__(self, routes: Sequence[BaseRoute], **kwargs: object) -> None:
        super().__init__(routes=routes, **kwargs)  # type: ignore[arg-type]
        self._shapes = [(route, *_route_shape(route)) for route in self.routes]
        self._literals = {first for _, first, _ in self._shapes if first is not None}
        self._candidates: dict[Shape, list[BaseRoute]] = {}

    def candidates(self, shape: Shape) -> list[BaseRoute]:
        """The routes that can match a path of ``shape``, in order."""
        found = self._candidates.get(shape)
        if found is None:
            first, count = shape
            found = [
                route
                for route, literal, exact in self._shapes
                if (literal is None or literal == first) and (exact is None or exact == count)
            ]
            if first in self._literals and count <= MAX_CACHED_SEGMENTS:  # a bounded cache
                self._candidates[shape] = found
        return found

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.candidates(shape_of(get_route_path(scope))):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    if "router" not in scope:
                        scope["router"] = self
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)
