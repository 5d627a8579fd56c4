"""News (``/actualites``) and practical information (``/infos-pratiques``).

Only public items within their publication window are shown to anonymous citizens; any
other item answers 404, exactly like an unknown one (no hint that it exists).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from engine.model import NewsItem, Pack
from renderer import text
from renderer.errors import NotFound
from renderer.templating import render

Kind = Literal["news", "info"]


def today(request: Request) -> dt.date:
    now: dt.datetime = request.app.state.now()
    return now.astimezone(text.PARIS).date()


def is_visible(item: NewsItem, day: dt.date) -> bool:
    """Public, and published on ``day`` (both bounds inclusive)."""
    if not item.public:
        return False
    if item.publish_from and day < item.publish_from:
        return False
    return not (item.publish_until and day > item.publish_until)


def category_slug(category: str) -> str:
    return "-".join(text.terms(category))


def visible_items(pack: Pack, day: dt.date, kind: Kind) -> list[NewsItem]:
    """Visible items of ``kind``: news newest first, information pages by title."""
    items = [n for n in pack.news.values() if n.kind == kind and is_visible(n, day)]
    if kind == "news":
        items.sort(key=lambda n: (n.date or dt.date.min, n.id), reverse=True)
    else:
        items.sort(key=lambda n: (text.normalise(n.category), text.normalise(n.title)))
    return items


def latest_news(request: Request, count: int, kind: Kind = "news") -> list[NewsItem]:
    return visible_items(request.app.state.pack, today(request), kind)[:count]


def categories(items: list[NewsItem]) -> list[tuple[str, str]]:
    """(slug, label) of the categories present, alphabetically."""
    seen = {category_slug(n.category): n.category for n in items}
    return sorted(seen.items(), key=lambda pair: pair[0])


def visible_item(request: Request, kind: Kind) -> NewsItem:
    item = request.app.state.pack.news.get(request.path_params["item_id"])
    if item is None or item.kind != kind or not is_visible(item, today(request)):
        raise NotFound()
    return item


async def news_list(request: Request) -> Response:
    items = visible_items(request.app.state.pack, today(request), "news")
    all_categories = categories(items)
    selected = request.query_params.get("categorie", "")
    if selected:
        items = [n for n in items if category_slug(n.category) == selected]
    context = {"items": items, "categories": all_categories, "selected": selected}
    return render(request, "citizen/news_list.html", context)


async def news_detail(request: Request) -> Response:
    return render(request, "citizen/news_detail.html", {"item": visible_item(request, "news")})


async def infos_list(request: Request) -> Response:
    items = visible_items(request.app.state.pack, today(request), "info")
    groups: dict[str, list[NewsItem]] = {}
    for item in items:
        groups.setdefault(item.category, []).append(item)
    return render(request, "citizen/infos_list.html", {"groups": list(groups.items())})


async def infos_detail(request: Request) -> Response:
    return render(request, "citizen/infos_detail.html", {"item": visible_item(request, "info")})


routes: list[BaseRoute] = [
    Route("/actualites", news_list, name="news"),
    Route("/actualites/{item_id}", news_detail, name="news_item"),
    Route("/infos-pratiques", infos_list, name="infos"),
    Route("/infos-pratiques/{item_id}", infos_detail, name="info_item"),
]
