"""The HTTP error tree and the one handler that renders French error pages.

Routes raise ``NotFound()`` and friends; the handler renders ``errors/{status}.html``. A
citizen never sees a stack trace: unexpected exceptions become the French 500 page.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

log = logging.getLogger("guichet")

TITLES = {
    400: "Requête incorrecte",
    403: "Accès refusé",
    404: "Page introuvable",
    405: "Action non permise",
    413: "Envoi trop volumineux",
    500: "Erreur du serveur",
}
MESSAGES = {
    400: "La requête envoyée n'a pas pu être comprise.",
    403: "Vous n'avez pas accès à cette page.",
    404: "La page que vous cherchez n'existe pas ou n'est plus disponible.",
    405: "Cette action n'est pas permise sur cette page.",
    413: "Les données envoyées dépassent la taille autorisée.",
    500: "Une erreur inattendue s'est produite. Veuillez réessayer dans quelques instants.",
}
PAGES = {400, 403, 404, 413, 500}


class HTTPError(Exception):
    """An error shown to the citizen as a French page with ``status_code``."""

    status_code = 500

    def __init__(self, message: str | None = None) -> None:
        self.message = message or MESSAGES[self.status_code]
        super().__init__(self.message)


class BadRequest(HTTPError):
    status_code = 400


class Forbidden(HTTPError):
    status_code = 403


class NotFound(HTTPError):
    status_code = 404


class PayloadTooLarge(HTTPError):
    status_code = 413


CSRF_MESSAGE = (
    "Le formulaire a expiré ou n'a pas été envoyé depuis ce site. "
    "Revenez à la page précédente, rechargez-la et envoyez le formulaire à nouveau."
)


def error_response(request: Request, status_code: int, message: str | None = None) -> Response:
    """The French error page for ``status_code``; plain text if the templates themselves fail."""
    page = status_code if status_code in PAGES else (500 if status_code >= 500 else 400)
    context = {
        "status_code": status_code,
        "error_title": TITLES.get(status_code, TITLES[page]),
        "message": message or MESSAGES.get(status_code, MESSAGES[page]),
    }
    try:
        from renderer.templating import render

        response: Response = render(request, f"errors/{page}.html", context, status_code)
    except Exception:  # the error page must never fail: fall back to text
        log.exception("error page %s failed to render", page)
        response = PlainTextResponse(f"{context['error_title']}. {context['message']}", status_code)
    return response


async def http_error_handler(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPError):
        return error_response(request, exc.status_code, exc.message)
    if isinstance(exc, StarletteHTTPException):
        # Starlette's own errors (routing 404/405, form parser 400) carry English details:
        # show our French message instead.
        response = error_response(request, exc.status_code)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response
    return await server_error_handler(request, exc)


async def server_error_handler(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    response = error_response(request, 500)
    # ServerErrorMiddleware sits outside our middleware: add the security headers here.
    from renderer.security import security_headers

    response.headers.update(security_headers())
    return response


EXCEPTION_HANDLERS = {
    HTTPError: http_error_handler,
    StarletteHTTPException: http_error_handler,
    Exception: server_error_handler,
}

__all__ = [
    "CSRF_MESSAGE",
    "EXCEPTION_HANDLERS",
    "BadRequest",
    "Forbidden",
    "HTTPError",
    "NotFound",
    "PayloadTooLarge",
    "error_response",
]
