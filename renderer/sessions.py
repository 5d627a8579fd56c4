"""The signed session cookie, as a pure ASGI middleware.

The cookie has Starlette's ``SessionMiddleware`` format (base64 JSON signed by an
itsdangerous ``TimestampSigner``), so ``request.session`` behaves the same and existing
cookies stay valid. What differs is the cost per request: a cookie already verified is not
verified again (a bounded cache maps the exact cookie value to its payload and signing time,
its age is still checked on every request), and the cookie is signed again only when the
session changed, was emptied, or was signed more than ``REFRESH_SECONDS`` ago (so an active
session does not expire ``max_age`` after its last change). ``Vary: Cookie`` is sent only
when a response that read the session may be stored by a cache (`_may_be_stored`).
"""

from __future__ import annotations

import hashlib
import json
import time
from base64 import b64decode, b64encode
from typing import Any

import itsdangerous
from itsdangerous.exc import BadSignature
from starlette.middleware.sessions import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_AGE_SECONDS = 14 * 24 * 3600
REFRESH_SECONDS = 3600
CACHE_SIZE = 4096
EXPIRED = "expires=Thu, 01 Jan 1970 00:00:00 GMT; "


def _may_be_stored(message: Message) -> bool:
    """Whether a cache may store this response: only when it says so with a Cache-Control
    of its own without ``no-store``. The portal's pages carry none and are made ``no-store``
    by `renderer.security.SecurityHeadersMiddleware`, outside this one; a response that no
    cache stores needs no ``Vary: Cookie``."""
    for name, value in message.get("headers", ()):
        if name.lower() == b"cache-control":
            return b"no-store" not in value.lower()
    return False


class SessionMiddleware:
    """``scope["session"]`` from the signed cookie ``session_cookie``; Set-Cookie on change."""

    def __init__(
        self,
        app: ASGIApp,
        secret_key: str,
        session_cookie: str = "session",
        max_age: int = MAX_AGE_SECONDS,
        same_site: str = "lax",
        https_only: bool = False,
    ) -> None:
        self.app = app
        # hashlib.sha1 itself, not itsdangerous' default (a Python function that calls it,
        # which sends `hmac` down its pure-Python path): the same HMAC-SHA1 signatures.
        self.signer = itsdangerous.TimestampSigner(str(secret_key), digest_method=hashlib.sha1)
        self.cookie = session_cookie
        self.prefix = session_cookie + "="
        self.max_age = max_age
        flags = "httponly; samesite=" + same_site + ("; secure" if https_only else "")
        self.set_suffix = f"; path=/; Max-Age={max_age}; {flags}".encode()
        self.clear_header = f"{session_cookie}=null; path=/; {EXPIRED}{flags}".encode()
        # cookie value -> (JSON payload, signing time); only verified cookies get in.
        self._verified: dict[str, tuple[bytes, float]] = {}
        self._parsed: dict[bytes, dict[str, Any]] = {}  # flat payloads, parsed once

    def _read(self, value: str) -> tuple[bytes, float] | None:
        """The payload and signing time of a valid, unexpired cookie value."""
        found = self._verified.get(value)
        if found is None:
            try:
                signed, stamp = self.signer.unsign(
                    value.encode(), max_age=self.max_age, return_timestamp=True
                )
                found = (b64decode(signed), stamp.timestamp())
            except (BadSignature, ValueError):
                return None
            if len(self._verified) >= CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)))
            self._verified[value] = found
        elif time.time() - found[1] > self.max_age:
            del self._verified[value]
            return None
        return found

    def _payload(self, raw: bytes) -> dict[str, Any]:
        """The dict of a verified payload, for ``Session(...)``, which copies it. A flat one
        (strings only, the usual case) is parsed once; a nested one every time, since a copy
        would share its inner values."""
        found = self._parsed.get(raw)
        if found is not None:
            return found
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("session payload is not an object")
        if all(isinstance(v, str) for v in data.values()):
            if len(self._parsed) >= CACHE_SIZE:
                self._parsed.pop(next(iter(self._parsed)))
            self._parsed[raw] = data
        return data

    def _original(self, raw: bytes) -> Any:
        """The payload the request's cookie held (parsed already if flat)."""
        found = self._parsed.get(raw)
        return found if found is not None else json.loads(raw)

    def _cookie_value(self, scope: Scope) -> str | None:
        for name, raw in scope["headers"]:
            if name != b"cookie":
                continue
            for part in raw.decode("latin-1").split(";"):
                part = part.strip()
                if part.startswith(self.prefix):
                    return part[len(self.prefix) :]
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        value = self._cookie_value(scope)
        found = self._read(value) if value else None
        session = Session()
        if found is not None:
            try:
                session = Session(self._payload(found[0]))  # dict(): not marked as modified
            except ValueError:
                found = None
        scope["session"] = session

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                header = self._set_cookie(session, found)
                vary = session.accessed and _may_be_stored(message)
                if header is not None or vary:
                    headers = list(message.get("headers", []))
                    if vary:
                        headers.append((b"vary", b"Cookie"))
                    if header is not None:
                        headers.append((b"set-cookie", header))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _set_cookie(self, session: Session, found: tuple[bytes, float] | None) -> bytes | None:
        """The Set-Cookie value the response needs, or None."""
        if not session:
            return self.clear_header if session.modified and found is not None else None
        stale = found is None or time.time() - found[1] > REFRESH_SECONDS
        if not session.modified and not stale:
            return None
        if not stale and found is not None and session == self._original(found[0]):
            return None  # written to but unchanged (a pop of a missing key, a same value)
        signed = self.signer.sign(b64encode(json.dumps(session).encode()))
        return self.prefix.encode() + signed + self.set_suffix
