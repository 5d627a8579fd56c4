"""News and practical information: visibility rules, order, categories, safe Markdown."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from renderer.text import markdown_to_html
from tests.renderer.conftest import PARIS, RENDERER_PACK


def news_ids(html: str) -> list[str]:
    return re.findall(r'<h2 class="card-title"><a href="/actualites/([a-z-]+)"', html)


def test_news_list_public_published_newest_first(client: TestClient) -> None:
    html = client.get("/actualites").text
    assert news_ids(html) == ["travaux", "fete", "vieux-marche"]
    assert '<time datetime="2026-05-25">25 mai 2026</time>' in html


def test_news_filtered_by_category(client: TestClient) -> None:
    html = client.get("/actualites", params={"categorie": "vie-locale"}).text
    assert news_ids(html) == ["fete", "vieux-marche"]
    assert '<a href="/actualites?categorie=vie-locale" aria-current="page">Vie locale</a>' in html
    html = client.get("/actualites", params={"categorie": "inconnue"}).text
    assert news_ids(html) == []
    assert "Aucune actualité dans cette catégorie." in html


@pytest.mark.parametrize(
    "item_id",
    ["conseil", "futur", "ancien", "inconnue", "horaires"],
    ids=["private", "not-yet-published", "expired", "unknown", "info-not-news"],
)
def test_hidden_news_are_404(client: TestClient, item_id: str) -> None:
    page = client.get(f"/actualites/{item_id}")
    assert page.status_code == 404
    assert "Page introuvable" in page.text


def test_publication_window_follows_the_clock(client_factory: Callable[..., TestClient]) -> None:
    client = client_factory(RENDERER_PACK, now=dt.datetime(2026, 7, 1, 0, 5, tzinfo=PARIS))
    assert client.get("/actualites/futur").status_code == 200
    client.app.state.now.now = dt.datetime(2026, 6, 30, 23, 55, tzinfo=PARIS)  # type: ignore[attr-defined]
    assert client.get("/actualites/futur").status_code == 404
    client.app.state.now.now = dt.datetime(2026, 4, 30, 23, 55, tzinfo=PARIS)  # type: ignore[attr-defined]
    assert client.get("/actualites/ancien").status_code == 200


def test_news_detail_renders_markdown_safely(client: TestClient) -> None:
    page = client.get("/actualites/fete")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Fête de l&#39;été</h1>" in html
    assert "Venez <strong>nombreux</strong> !" in html
    assert "<script>alert" not in html
    assert "<img" not in html.replace('<img class="brand-logo"', "")
    assert "onerror" not in html.replace("&lt;img src=x onerror=", "")
    assert 'href="javascript' not in html
    assert '<a href="https://example.org/programme" rel="noopener noreferrer">le site</a>' in html


def test_infos_list_by_category_public_only(client: TestClient) -> None:
    html = client.get("/infos-pratiques").text
    assert '<h2 id="infos-1">Mairie</h2>' in html
    assert 'href="/infos-pratiques/horaires"' in html
    assert "info-privee" not in html
    detail = client.get("/infos-pratiques/horaires").text
    assert "Du lundi au vendredi, de <strong>9 h à 17 h</strong>." in detail
    assert client.get("/infos-pratiques/info-privee").status_code == 404
    assert client.get("/infos-pratiques/fete").status_code == 404


@pytest.mark.parametrize(
    ("source", "forbidden"),
    [
        ("<script>alert(1)</script>", "<script"),
        ('<a href="#" onclick="alert(1)">x</a>', "<a href"),
        ("[x](javascript:alert(1))", 'href="javascript'),
        ("[x](JaVaScRiPt:alert(1))", 'href="JaVaScRiPt'),
        ("<img src=x onerror=alert(1)>", "<img"),
        ('<iframe src="https://evil.example"></iframe>', "<iframe"),
        ("[x](data:text/html;base64,PHNjcmlwdD4=)", 'href="data:'),
    ],
    ids=["script", "onclick", "javascript-link", "mixed-case", "img-onerror", "iframe", "data-url"],
)
def test_markdown_xss_is_neutralised(source: str, forbidden: str) -> None:
    assert forbidden not in markdown_to_html(source)


def test_markdown_keeps_ordinary_formatting() -> None:
    html = markdown_to_html("# Titre\n\n- **un**\n- [deux](mailto:mairie@example.org)")
    assert html == (
        "<h2>Titre</h2>\n<ul>\n<li><strong>un</strong></li>\n"
        '<li><a href="mailto:mairie@example.org" rel="noopener noreferrer">deux</a></li>\n</ul>\n'
    )
