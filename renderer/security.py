"""Security plumbing: session identity, CSRF, form limits, body size limit, security headers.

Every POST handler reads its form with ``await read_form(request)``: it parses with the
configured limits and checks the CSRF token of the session before any data is used.
"""

from __future__ import annotations

import hmac
import re
import secrets
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from urllib.parse import unquote_plus

from markupsafe import Markup, escape
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from renderer.errors import CSRF_MESSAGE, BadRequest, Forbidden, PayloadTooLarge, error_response

CSRF_FIELD = "csrf_token"
URLENCODED = "application/x-www-form-urlencoded"
# C0 control characters but tab, newline and carriage return, and DEL: never meaningful in a
# form answer, and PostgreSQL refuses NUL in text (asyncpg raises at the submission).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
BAD_FORM = "Le formulaire envoyé est incorrect ou contient trop de champs ou de fichiers."
SESSION_COOKIE = "guichet_session"
# Paths whose responses may be cached: they never carry personal data and are cache-busted.
CACHEABLE_PREFIXES = ("/static/", "/theme.css", "/logo", "/favicon.ico")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def security_headers() -> dict[str, str]:
    """The headers every response carries but redirects (see `REDIRECT_HEADERS`)."""
    return {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }


# A redirect has no content for a browser to render, frame, sniff or grant features to: of
# the headers above, only the referrer policy applies to it (it governs the Referer of the
# request the redirect leads to). The page it leads to carries them all.
REDIRECT_HEADERS = ("Referrer-Policy",)


@dataclass(frozen=True, slots=True)
class UploadLimits:
    max_request_bytes: int
    max_file_bytes: int
    max_files: int
    max_fields: int
    max_part_bytes: int = 1024 * 1024  # one non-file field


def _session_secret(request: Request, key: str) -> str:
    """A random secret kept in the signed session cookie under ``key``; created when missing."""
    value = request.session.get(key)
    if not isinstance(value, str) or len(value) < 32:
        value = secrets.token_urlsafe(32)
        request.session[key] = value
    return value


def session_id(request: Request) -> str:
    """The browser session's random id (drafts hang on it); created when missing."""
    return _session_secret(request, "sid")


def csrf_token(request: Request) -> str:
    return _session_secret(request, "csrf")


def session_tag(request: Request, *parts: str) -> str:
    """A tag of ``parts`` (an HMAC-SHA256 keyed by the browser session's id, 128 bits, in
    base64url) for a link that only this browser session can follow; "" without a session.
    The session id never leaves the signed cookie, so no one else can make or check one."""
    sid = request.session.get("sid")
    if not isinstance(sid, str) or not sid:
        return ""
    mac = hmac.digest(sid.encode(), "\x00".join(parts).encode(), "sha256")[:16]
    return urlsafe_b64encode(mac).rstrip(b"=").decode()


def has_session_tag(request: Request, tag: str, *parts: str) -> bool:
    """Whether ``tag`` is this browser session's `session_tag` of ``parts``."""
    expected = session_tag(request, *parts)
    return bool(expected) and hmac.compare_digest(expected.encode(), tag.encode())


def csrf_input(request: Request) -> Markup:
    return Markup(
        f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token(request))}">'
    )


async def read_form(request: Request) -> FormData:
    """Parse the posted form within the limits and check its CSRF token.

    Raises ``Forbidden`` (bad or missing token), ``BadRequest`` (malformed or too many
    fields/files) or ``PayloadTooLarge`` (a file over the maximum size).
    """
    limits: UploadLimits = request.app.state.limits
    if request.headers.get("content-type", "").lower().startswith(URLENCODED):
        form = parse_urlencoded(await request.body(), limits)
    else:
        try:
            form = await request.form(
                max_files=limits.max_files,
                max_fields=limits.max_fields,
                max_part_size=limits.max_part_bytes,
            )
        except StarletteHTTPException:
            raise BadRequest(BAD_FORM) from None
    expected = request.session.get("csrf")
    given = form.get(CSRF_FIELD)
    if not (isinstance(expected, str) and isinstance(given, str) and expected):
        await form.close()
        raise Forbidden(CSRF_MESSAGE)
    if not hmac.compare_digest(expected.encode(), given.encode()):
        await form.close()
        raise Forbidden(CSRF_MESSAGE)
    for _, value in form.multi_items():
        if isinstance(value, UploadFile) and (value.size or 0) > limits.max_file_bytes:
            name = value.filename or "envoyé"
            mb = limits.max_file_bytes // (1024 * 1024)
            await form.close()
            raise PayloadTooLarge(
                f"Le fichier « {name} » dépasse la taille maximale autorisée ({mb} Mo)."
            )
    return without_controls(form)


def without_controls(form: FormData) -> FormData:
    """``form`` with control characters (see ``_CONTROLS``) removed from every text value.

    Done once here, for every form, so that no answer (applicant fields included) carries
    them to the draft, the request or an email. Returns ``form`` itself when it has none.
    """
    items = form.multi_items()
    if not any(isinstance(v, str) and _CONTROLS.search(v) for _, v in items):
        return form
    return FormData([(k, _CONTROLS.sub("", v) if isinstance(v, str) else v) for k, v in items])


def parse_urlencoded(body: bytes, limits: UploadLimits) -> FormData:
    """An ``application/x-www-form-urlencoded`` body as Starlette parses it, in one call.

    Starlette's parser feeds python-multipart's streaming parser through callbacks, about
    a tenth of a millisecond for a few fields; a small body is split here directly, with
    the same decoding (Latin-1 bytes, then %-escapes as UTF-8, '+' as a space) and limits.
    """
    items: list[tuple[str, str | UploadFile]] = []
    for part in body.decode("latin-1").split("&"):
        if not part:
            continue
        if len(part) > limits.max_part_bytes or len(items) >= limits.max_fields:
            raise BadRequest(BAD_FORM)
        name, _, value = part.partition("=")
        items.append((unquote_plus(name), unquote_plus(value)))
    return FormData(items)


class SecurityHeadersMiddleware:
    """Adds the security headers to every response (a redirect only those that apply to it,
    `REDIRECT_HEADERS`); pages default to ``no-store``, which `renderer.sessions` relies on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        every = security_headers()
        self.headers = [(k.lower().encode(), v.encode()) for k, v in every.items()]
        self.redirect_headers = [(k.lower().encode(), every[k].encode()) for k in REDIRECT_HEADERS]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith(CACHEABLE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                redirect = 300 <= message["status"] < 400
                ours = self.redirect_headers if redirect else self.headers
                headers += [h for h in ours if h[0] not in present]
                if b"cache-control" not in present:
                    value = b"public, max-age=3600" if cacheable else b"no-store"
                    headers.append((b"cache-control", value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimitMiddleware:
    """Answers 413 to a body over the limit, by Content-Length or while it streams in."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "OPTIONS"}:
            await self.app(scope, receive, send)
            return
        limit: int = scope["app"].state.limits.max_request_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            response = error_response(Request(scope), 413)
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the handler's form parsing: the error handler renders 413.
                    raise PayloadTooLarge()
            return message

        await self.app(scope, limited_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
