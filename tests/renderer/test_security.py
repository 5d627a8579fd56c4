"""Security plumbing over the real app: CSRF, limits, headers, session identity."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.datastructures import Headers
from starlette.formparsers import FormParser
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from renderer.errors import BadRequest
from renderer.security import (
    CSRF_FIELD,
    URLENCODED,
    UploadLimits,
    csrf_token,
    parse_urlencoded,
    read_form,
    session_id,
)
from tests.renderer.conftest import RENDERER_PACK

CSRF_TEXT = "Le formulaire a expiré ou n&#39;a pas été envoyé depuis ce site."


async def token_page(request: Request) -> Response:
    return PlainTextResponse(f"{session_id(request)} {csrf_token(request)}")


async def echo_form(request: Request) -> Response:
    form = await read_form(request)
    names = sorted({k for k in form if k != CSRF_FIELD})
    return PlainTextResponse(",".join(names))


def with_test_routes(client: TestClient) -> TestClient:
    client.app.router.routes[:0] = [  # type: ignore[attr-defined]
        Route("/_test/token", token_page),
        Route("/_test/form", echo_form, methods=["POST"]),
    ]
    return client


@pytest.fixture
def form_client(client_factory: Callable[..., TestClient]) -> TestClient:
    # fixture pack: max_file_size_mb 1; the request limit is set to 3 MB
    return with_test_routes(client_factory(RENDERER_PACK, max_request_mb=3, max_fields=10))


def session_of(client: TestClient) -> tuple[str, str]:
    sid, token = client.get("/_test/token").text.split()
    return sid, token


def test_session_id_and_token_are_stable_per_browser(form_client: TestClient) -> None:
    first = session_of(form_client)
    assert session_of(form_client) == first
    assert len(first[0]) >= 32 and len(first[1]) >= 32
    other = TestClient(form_client.app)
    assert session_of(other)[0] != first[0]


def test_post_with_the_token_is_accepted(form_client: TestClient) -> None:
    _, token = session_of(form_client)
    page = form_client.post("/_test/form", data={CSRF_FIELD: token, "nom": "Dupont"})
    assert page.status_code == 200
    assert page.text == "nom"


@pytest.mark.parametrize(
    "data",
    [{"nom": "Dupont"}, {CSRF_FIELD: "", "nom": "x"}, {CSRF_FIELD: "forged-token-" * 4}],
    ids=["missing", "empty", "wrong"],
)
def test_post_without_a_valid_token_is_403(form_client: TestClient, data: dict[str, str]) -> None:
    session_of(form_client)
    page = form_client.post("/_test/form", data=data)
    assert page.status_code == 403
    assert '<h1 id="titre-erreur">Accès refusé</h1>' in page.text
    assert CSRF_TEXT in page.text


def test_token_of_another_session_is_refused(form_client: TestClient) -> None:
    other = with_test_routes(TestClient(form_client.app))
    _, foreign = session_of(other)
    session_of(form_client)
    assert form_client.post("/_test/form", data={CSRF_FIELD: foreign}).status_code == 403


def test_oversize_body_is_413_by_content_length(form_client: TestClient) -> None:
    _, token = session_of(form_client)
    big = "x" * (3 * 1024 * 1024 + 1)
    page = form_client.post("/_test/form", data={CSRF_FIELD: token, "texte": big})
    assert page.status_code == 413
    assert "Envoi trop volumineux" in page.text
    assert "Les données envoyées dépassent la taille autorisée." in page.text
    assert page.headers["x-content-type-options"] == "nosniff"


def test_oversize_streamed_body_is_413(form_client: TestClient) -> None:
    session_of(form_client)

    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b"a=" + b"x" * (1024 * 1024) + b"&"

    page = form_client.post(
        "/_test/form",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert page.status_code == 413
    assert "Envoi trop volumineux" in page.text


def test_file_over_the_portal_limit_is_413_naming_it(form_client: TestClient) -> None:
    _, token = session_of(form_client)
    files = {"piece": ("scan.pdf", b"%PDF-1.4 " + b"0" * (1024 * 1024 + 10), "application/pdf")}
    page = form_client.post("/_test/form", data={CSRF_FIELD: token}, files=files)
    assert page.status_code == 413
    assert "Le fichier « scan.pdf » dépasse la taille maximale autorisée (1 Mo)." in page.text


def test_file_within_the_limit_is_accepted(form_client: TestClient) -> None:
    _, token = session_of(form_client)
    files = {"piece": ("scan.pdf", b"%PDF-1.4 small", "application/pdf")}
    page = form_client.post("/_test/form", data={CSRF_FIELD: token}, files=files)
    assert (page.status_code, page.text) == (200, "piece")


def test_too_many_fields_is_400(form_client: TestClient) -> None:
    _, token = session_of(form_client)
    data = {CSRF_FIELD: token, **{f"champ{i}": "x" for i in range(20)}}
    page = form_client.post("/_test/form", data=data)
    assert page.status_code == 400
    assert (
        "Le formulaire envoyé est incorrect ou contient trop de champs ou de fichiers." in page.text
    )


def test_too_many_files_is_400(client_factory: Callable[..., TestClient]) -> None:
    client = with_test_routes(client_factory(RENDERER_PACK, max_files=2))
    _, token = session_of(client)
    files = [("piece", (f"f{i}.pdf", b"%PDF-1.4", "application/pdf")) for i in range(3)]
    page = client.post("/_test/form", data={CSRF_FIELD: token}, files=files)
    assert page.status_code == 400


@pytest.mark.parametrize("url", ["/", "/demarches/cantine", "/nope", "/static/css/guichet.css"])
def test_security_headers_on_every_response(client: TestClient, url: str) -> None:
    headers = client.get(url).headers
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_a_redirect_carries_only_the_headers_that_apply_to_it(
    form_client: TestClient,
) -> None:
    # A redirect is never rendered: its referrer policy governs the request it leads to.
    response = form_client.get("/demarches/cantine/etapes/demarche", follow_redirects=False)
    redirect = form_client.get("/demarches/cantine/etapes/recapitulatif", follow_redirects=False)
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert redirect.status_code == 303, redirect.status_code
    assert redirect.headers["referrer-policy"] == "same-origin"
    assert redirect.headers["cache-control"] == "no-store"
    for name in ("content-security-policy", "x-frame-options", "permissions-policy"):
        assert name not in redirect.headers


def test_pages_are_not_stored_but_static_files_are_cached(client: TestClient) -> None:
    assert client.get("/demarches").headers["cache-control"] == "no-store"
    assert client.get("/static/css/guichet.css").headers["cache-control"].startswith("public")


def test_session_cookie_is_httponly_and_lax(form_client: TestClient) -> None:
    cookie = form_client.get("/_test/token").headers["set-cookie"]
    assert cookie.startswith("guichet_session=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()


def test_no_inline_script_or_style_in_pages(client: TestClient) -> None:
    for url in ["/", "/demarches", "/demarches/inscription-ecole", "/actualites/fete", "/nope"]:
        html = client.get(url).text
        assert "<script>" not in html and " style=" not in html and " onclick=" not in html


URLENCODED_BODIES = [
    b"nom=Dupont&prenom=Marie",
    b"nom=%C3%89lo%C3%AFse+Dupont&vide=&seul&a=1&a=2",
    b"&&x=%2B%26%3D+y&",
    "caf\u00e9=th\u00e9".encode("latin-1"),  # raw bytes, not %-escaped
    b"bad=%ZZ%C3&%E9t%E9=ok",
]


@pytest.mark.parametrize("body", URLENCODED_BODIES, ids=range(len(URLENCODED_BODIES)))
def test_urlencoded_forms_parse_as_starlette_parses_them(body: bytes) -> None:
    async def chunks() -> Any:
        yield body

    parser = FormParser(Headers({"content-type": URLENCODED}), chunks())
    expected = asyncio.run(parser.parse())
    limits = UploadLimits(1024, 1024, 1, 10)
    assert parse_urlencoded(body, limits).multi_items() == expected.multi_items()


def test_urlencoded_forms_keep_their_limits() -> None:
    limits = UploadLimits(1024, 1024, 1, max_fields=3, max_part_bytes=10)
    assert len(parse_urlencoded(b"a=1&b=2&c=3", limits)) == 3
    for body in (b"a=1&b=2&c=3&d=4", b"a=" + b"x" * 10):
        with pytest.raises(BadRequest, match="contient trop de champs"):
            parse_urlencoded(body, limits)
