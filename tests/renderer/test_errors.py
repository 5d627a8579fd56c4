"""French error pages: every status, never a stack trace."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from renderer.errors import BadRequest, Forbidden, HTTPError, NotFound, PayloadTooLarge
from tests.renderer.conftest import RENDERER_PACK


async def explode(request: Request) -> Response:
    raise RuntimeError("secret internals: password=hunter2")


def raiser(error: HTTPError) -> Callable[[Request], object]:
    async def endpoint(request: Request) -> Response:
        raise error

    return endpoint


@pytest.fixture
def error_client(client_factory: Callable[..., TestClient]) -> TestClient:
    client = client_factory(RENDERER_PACK, raise_server_exceptions=False)
    client.app.router.routes[:0] = [  # type: ignore[attr-defined]
        Route("/_test/explode", explode),
        Route("/_test/400", raiser(BadRequest())),
        Route("/_test/403", raiser(Forbidden())),
        Route("/_test/404", raiser(NotFound())),
        Route("/_test/413", raiser(PayloadTooLarge())),
        Route("/_test/custom", raiser(BadRequest("La date saisie n'existe pas."))),
    ]
    return client


@pytest.mark.parametrize(
    ("url", "status", "title", "message"),
    [
        (
            "/_test/400",
            400,
            "Requête incorrecte",
            "La requête envoyée n&#39;a pas pu être comprise.",
        ),
        ("/_test/403", 403, "Accès refusé", "Vous n&#39;avez pas accès à cette page."),
        ("/_test/404", 404, "Page introuvable", "La page que vous cherchez n&#39;existe pas"),
        ("/_test/413", 413, "Envoi trop volumineux", "Les données envoyées dépassent la taille"),
        ("/inconnue/page", 404, "Page introuvable", "La page que vous cherchez n&#39;existe pas"),
        ("/_test/custom", 400, "Requête incorrecte", "La date saisie n&#39;existe pas."),
    ],
    ids=["400", "403", "404", "413", "routing-404", "custom-message"],
)
def test_error_pages_are_french(
    error_client: TestClient, url: str, status: int, title: str, message: str
) -> None:
    page = error_client.get(url)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert f'<h1 id="titre-erreur">{title}</h1>' in page.text
    assert message in page.text
    assert '<html lang="fr">' in page.text
    assert "Retour à l'accueil" in page.text


def test_handler_exception_gives_the_french_500_page(error_client: TestClient) -> None:
    page = error_client.get("/_test/explode")
    assert page.status_code == 500
    assert '<h1 id="titre-erreur">Erreur du serveur</h1>' in page.text
    assert "Une erreur inattendue s&#39;est produite." in page.text
    for leak in ("Traceback", "RuntimeError", "hunter2", "explode"):
        assert leak not in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_wrong_method_is_french(error_client: TestClient) -> None:
    page = error_client.post("/demarches")
    assert page.status_code == 405
    assert "Action non permise" in page.text
    assert set(page.headers["allow"].split(", ")) == {"GET", "HEAD"}
