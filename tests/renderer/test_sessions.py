"""The session cookie middleware: Starlette's cookie format, signed again only on change."""

from __future__ import annotations

import json
import time
from base64 import b64encode

import itsdangerous
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from renderer import sessions
from renderer.sessions import SessionMiddleware

SECRET = "s" * 40


async def read(request: Request) -> PlainTextResponse:
    return PlainTextResponse(json.dumps(dict(request.session), sort_keys=True))


async def write(request: Request) -> PlainTextResponse:
    request.session[request.query_params["k"]] = request.query_params["v"]
    return PlainTextResponse("ok")


async def read_cacheable(request: Request) -> PlainTextResponse:
    headers = {"Cache-Control": request.query_params.get("cc", "private, max-age=60")}
    return PlainTextResponse(json.dumps(dict(request.session)), headers=headers)


async def pop(request: Request) -> PlainTextResponse:
    request.session.pop(request.query_params["k"], None)
    return PlainTextResponse("ok")


async def clear(request: Request) -> PlainTextResponse:
    request.session.clear()
    return PlainTextResponse("ok")


def make_client() -> TestClient:
    routes = [("/read", read), ("/write", write), ("/pop", pop), ("/clear", clear)]
    routes.append(("/read-cacheable", read_cacheable))
    app = Starlette(routes=[Route(path, endpoint) for path, endpoint in routes])
    wrapped = SessionMiddleware(app, secret_key=SECRET, session_cookie="guichet_session")
    return TestClient(wrapped)  # type: ignore[arg-type]


def signed_cookie(data: dict[str, str], secret: str = SECRET) -> str:
    """A cookie as Starlette's SessionMiddleware signs it."""
    signer = itsdangerous.TimestampSigner(secret)
    return signer.sign(b64encode(json.dumps(data).encode())).decode()


def test_a_change_sets_the_cookie_and_is_read_back() -> None:
    client = make_client()
    response = client.get("/write?k=a&v=1")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("guichet_session=")
    assert "httponly" in cookie and "samesite=lax" in cookie and "Max-Age=1209600" in cookie
    assert client.get("/read").text == '{"a": "1"}'


def test_vary_cookie_only_on_responses_a_cache_may_store() -> None:
    client = make_client()
    client.get("/write?k=a&v=1")
    # No Cache-Control of its own: the portal makes it no-store, no cache keeps it.
    assert "vary" not in client.get("/read").headers
    assert client.get("/read-cacheable").headers["vary"] == "Cookie"
    assert "vary" not in client.get("/read-cacheable?cc=no-store").headers


def test_reading_an_unchanged_session_sets_no_cookie() -> None:
    client = make_client()
    client.get("/write?k=a&v=1")
    for _ in range(2):
        response = client.get("/read")
        assert response.text == '{"a": "1"}'
        assert "set-cookie" not in response.headers


def test_writing_the_same_value_or_popping_a_missing_key_sets_no_cookie() -> None:
    client = make_client()
    client.get("/write?k=a&v=1")
    assert "set-cookie" not in client.get("/write?k=a&v=1").headers
    assert "set-cookie" not in client.get("/pop?k=missing").headers
    assert "set-cookie" in client.get("/pop?k=a").headers


def test_a_cookie_signed_by_starlette_is_accepted() -> None:
    client = make_client()
    client.cookies.set("guichet_session", signed_cookie({"sid": "x" * 40}))
    assert client.get("/read").text == json.dumps({"sid": "x" * 40})


@pytest.mark.parametrize("secret", ["another secret of forty characters......"])
def test_a_cookie_signed_with_another_key_gives_an_empty_session(secret: str) -> None:
    client = make_client()
    client.cookies.set("guichet_session", signed_cookie({"sid": "x" * 40}, secret))
    assert client.get("/read").text == "{}"


def test_a_tampered_cookie_gives_an_empty_session() -> None:
    client = make_client()
    good = signed_cookie({"sid": "x" * 40})
    payload, stamp, signature = good.split(".")
    forged = b64encode(json.dumps({"sid": "y" * 40}).encode()).decode()
    assert forged != payload
    client.cookies.set("guichet_session", f"{forged}.{stamp}.{signature}")
    assert client.get("/read").text == "{}"
    client.cookies.set("guichet_session", good)
    assert client.get("/read").text == json.dumps({"sid": "x" * 40})


def test_an_old_cookie_is_signed_again_on_a_read() -> None:
    client = make_client()
    old = itsdangerous.TimestampSigner(SECRET)
    old.get_timestamp = lambda: int(time.time()) - sessions.REFRESH_SECONDS - 10  # type: ignore[method-assign]
    client.cookies.set("guichet_session", old.sign(b64encode(b'{"a": "1"}')).decode())
    response = client.get("/read")
    assert response.text == '{"a": "1"}'
    assert response.headers["set-cookie"].startswith("guichet_session=")


def test_an_expired_cookie_gives_an_empty_session_even_once_verified() -> None:
    middleware = SessionMiddleware(PlainTextResponse("x"), SECRET, "guichet_session", max_age=60)
    value = signed_cookie({"a": "1"})
    assert middleware._read(value) is not None
    payload, stamp = middleware._verified[value]
    middleware._verified[value] = (payload, stamp - 61)  # verified a while ago, now too old
    assert middleware._read(value) is None
    assert value not in middleware._verified


def test_clearing_the_session_expires_the_cookie() -> None:
    client = make_client()
    client.get("/write?k=a&v=1")
    cookie = client.get("/clear").headers["set-cookie"]
    assert cookie.startswith("guichet_session=null;")
    assert "expires=Thu, 01 Jan 1970 00:00:00 GMT" in cookie


def test_a_change_made_under_one_cookie_does_not_leak_into_its_next_use() -> None:
    # Verified payloads are parsed once and handed out as copies: a request that writes to
    # its session must not change what the same (old) cookie reads next time.
    client = make_client()
    old = signed_cookie({"sid": "x" * 40})
    client.cookies.set("guichet_session", old)
    assert client.get("/read").text == json.dumps({"sid": "x" * 40})
    client.get("/write?k=a&v=1")
    client.get("/pop?k=sid")
    client.cookies.set("guichet_session", old)
    assert client.get("/read").text == json.dumps({"sid": "x" * 40})
