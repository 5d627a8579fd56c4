"""Fixtures that build a fresh portal app per test (shared by every renderer test).

- ``app_factory(definitions=None, *, db_url=None, now=FIXED_NOW, **settings)`` -> Starlette:
  a new app with its own var folder under ``tmp_path`` (secret key, mail, files), the given
  definition folder(s) (default: the example pack ``definitions/`` when it exists, else
  ``RENDERER_PACK``), a SQLite file under ``tmp_path`` unless ``db_url`` is given (pass the
  ``db_url`` fixture's value to run on both SQLite and PostgreSQL), migrations on start, and
  a fixed clock ``app.state.now`` (a ``Clock``: change ``clock.now`` to move time).
  Extra keyword arguments are settings overrides (``max_request_mb=1``...).
- ``client_factory(...)``: same arguments (plus ``raise_server_exceptions``), returns a
  started ``TestClient`` (lifespan entered: database connected and migrated); it is closed
  at the end of the test.
- ``client``: ``client_factory(RENDERER_PACK)`` on SQLite.
- ``pack_client``: the same, on the ``db_url`` fixture (both backends).

Helpers: ``run_in_app(client, async_fn, *args)`` runs a coroutine function in the app's
event loop (e.g. ``run_in_app(client, quota_used, client.app.state.db, ...)``: the database
connection belongs to that loop); ``csrf_token_of(html)`` reads the CSRF token from a page's
hidden input (``from tests.renderer.conftest import csrf_token_of``).
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.applications import Starlette

with warnings.catch_warnings():
    # Starlette 1.x prefers httpx2 for its TestClient; httpx (pinned) works the same.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from renderer.app import create_app
from renderer.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PACK = ROOT / "definitions"
RENDERER_PACK = ROOT / "tests" / "fixtures" / "renderer_pack"
PARIS = ZoneInfo("Europe/Paris")
# Inside the fixture pack's windows: cantine opens 2026-05-01 and closes 2026-07-15.
FIXED_NOW = dt.datetime(2026, 6, 1, 10, 0, tzinfo=PARIS)


class Clock:
    """A settable clock for ``app.state.now``."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def default_definitions() -> Path:
    return EXAMPLE_PACK if (EXAMPLE_PACK / "portal.yaml").is_file() else RENDERER_PACK


AppFactory = Callable[..., Starlette]


@pytest.fixture
def app_factory(tmp_path: Path) -> AppFactory:
    counter = iter(range(1000))

    def make(
        definitions: Path | Sequence[Path] | None = None,
        *,
        db_url: str | None = None,
        now: dt.datetime = FIXED_NOW,
        **overrides: Any,
    ) -> Starlette:
        if definitions is None:
            definitions = default_definitions()
        layers = (definitions,) if isinstance(definitions, Path) else tuple(definitions)
        var = tmp_path / f"var{next(counter)}"
        settings = Settings.from_env(
            {},
            definitions=layers,
            var_dir=var,
            database_url=db_url or f"sqlite:///{var / 'guichet.sqlite3'}",
            migrate_on_start=True,
            **overrides,
        )
        var.mkdir(parents=True, exist_ok=True)
        app = create_app(settings)
        app.state.now = Clock(now)
        return app

    return make


@pytest.fixture
def client_factory(app_factory: AppFactory) -> Iterator[Callable[..., TestClient]]:
    started: list[TestClient] = []

    def make(*args: Any, raise_server_exceptions: bool = True, **kwargs: Any) -> TestClient:
        app = app_factory(*args, **kwargs)
        client = TestClient(app, raise_server_exceptions=raise_server_exceptions)
        client.__enter__()
        started.append(client)
        return client

    yield make
    for client in reversed(started):
        client.__exit__(None, None, None)


@pytest.fixture
def client(client_factory: Callable[..., TestClient]) -> TestClient:
    return client_factory(RENDERER_PACK)


@pytest.fixture
def pack_client(client_factory: Callable[..., TestClient], db_url: str) -> TestClient:
    return client_factory(RENDERER_PACK, db_url=db_url)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token_of(html: str) -> str:
    """The CSRF token in a page's hidden input."""
    found = _CSRF.search(html)
    assert found, "no csrf_token input in the page"
    return found.group(1)


def run_in_app(client: TestClient, fn: Callable[..., Any], *args: Any) -> Any:
    """Await ``fn(*args)`` in the started app's event loop and return its result."""
    assert client.portal is not None, "the client is not started"
    return client.portal.call(fn, *args)
