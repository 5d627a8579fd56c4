"""The application factory: the composition root of the portal.

``create_app(settings)`` loads the definition pack once (invalid definitions stop the start
with their problems), then wires the database, file store, templates, routes, middleware and
error handlers. Tests build one app per test and replace ``app.state.now`` with a fixed clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from engine.model import Pack
from engine.validate import load_pack
from renderer import acks, templating
from renderer.draft_cache import DraftCache
from renderer.errors import EXCEPTION_HANDLERS
from renderer.routes import account, catalogue, news, tracking, wizard
from renderer.routing import IndexedRouter
from renderer.security import (
    SESSION_COOKIE,
    BodySizeLimitMiddleware,
    SecurityHeadersMiddleware,
    UploadLimits,
)
from renderer.sessions import SessionMiddleware
from renderer.settings import Settings
from storage import drafts, migrations, outbox
from storage.db import connect
from storage.files import FileStore, sweep_files

log = logging.getLogger("guichet")

# Route groups in mounting order.
ROUTE_MODULES = (catalogue, news, wizard, tracking, account)
DRAFT_PURGE_INTERVAL_SECONDS = 3600.0
# A file is uploaded before the draft that references it is saved: younger files are kept.
FILE_SWEEP_GRACE_SECONDS = 3600.0


class PortalState(State):
    """``app.state`` whose values are also plain attributes.

    Starlette's `State` keeps them in a dict behind ``__getattr__``, which Python calls only
    after the ordinary lookup failed, and that failure builds an ``AttributeError`` with its
    message formatted (callgrind: ~5,000 instructions a read, a dozen reads a request).
    Written here to both, read as ordinary attributes; ``state["key"]`` still works.
    """

    def __setattr__(self, key: str, value: Any) -> None:
        super().__setattr__(key, value)
        object.__setattr__(self, key, value)

    def __delattr__(self, key: str) -> None:
        super().__delattr__(key)
        object.__delattr__(self, key)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def load_definitions(settings: Settings) -> Pack:
    """The compiled pack of ``settings.definitions``; raises ``DefinitionErrors``."""
    return load_pack(list(settings.definitions))


def upload_limits(settings: Settings, pack: Pack) -> UploadLimits:
    portal_mb = pack.portal.limits.max_file_size_mb
    return UploadLimits(
        max_request_bytes=settings.max_request_bytes(portal_mb),
        max_file_bytes=settings.max_file_bytes(portal_mb),
        max_files=settings.max_files,
        max_fields=settings.max_fields,
    )


def collect_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for module in ROUTE_MODULES:
        routes.extend(module.routes)
    static = StaticFiles(directory=templating.STATIC_DIR)
    routes.append(Mount("/static", app=static, name="static"))
    return routes


def make_sender(settings: Settings, pack: Pack) -> outbox.Sender:
    sender_address = settings.mail_from or pack.portal.contact.email or outbox.DEFAULT_SENDER
    if settings.smtp_url:
        return outbox.SmtpSender(settings.smtp_url, default_sender=sender_address)
    return outbox.MaildirSender(settings.mail_folder, default_sender=sender_address)


def create_app(settings: Settings) -> Starlette:
    """The portal application for ``settings`` (the pack is loaded here, once)."""
    pack = load_definitions(settings)
    secret = settings.secret()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = await connect(settings.db_url)
        app.state.db = db
        stop = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        try:
            if settings.migrate_on_start:
                await migrations.migrate(db)
            sender = make_sender(settings, app.state.pack)
            worker = outbox.run_outbox_worker(
                db, sender, stop, settings.outbox_interval_seconds, app.state.compose_mail
            )
            tasks.append(asyncio.create_task(worker))
            tasks.append(asyncio.create_task(_purge_drafts_loop(app, stop)))
            yield
        finally:
            stop.set()
            for task in tasks:
                with contextlib.suppress(Exception):
                    await task
            await db.disconnect()

    middleware = [
        # Outermost first: headers on every response (413 included), then the body size
        # check before anything reads the body, then the session.
        Middleware(SecurityHeadersMiddleware),
        Middleware(BodySizeLimitMiddleware),
        Middleware(
            SessionMiddleware,
            secret_key=secret,
            session_cookie=SESSION_COOKIE,
            same_site="lax",
            https_only=settings.base_url.startswith("https://"),
        ),
    ]
    app = Starlette(
        debug=False,
        routes=collect_routes(),
        middleware=middleware,
        exception_handlers=dict(EXCEPTION_HANDLERS),  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    app.router = IndexedRouter(app.router.routes, lifespan=lifespan)
    app.state = PortalState()
    app.state.settings = settings
    app.state.pack = pack
    app.state.files = FileStore(settings.files_folder)
    app.state.draft_cache = DraftCache(secure=settings.base_url.startswith("https://"))
    app.state.now = utc_now
    app.state.templates = templating.create_environment()
    app.state.limits = upload_limits(settings, pack)
    app.state.compose_mail = acks.composer(pack, settings.base_url, settings.mail_from)
    return app


async def purge_round(app: Starlette) -> None:
    """Drop drafts untouched for GUICHET_DRAFT_TTL_HOURS, then the files nothing references.

    The sweep runs after the purge so that the files of the drafts just dropped go in the
    same round; files younger than ``FILE_SWEEP_GRACE_SECONDS`` (by the wall clock, like
    their modification time) are kept.
    """
    settings: Settings = app.state.settings
    cutoff = app.state.now() - dt.timedelta(hours=settings.draft_ttl_hours)
    await drafts.purge_drafts(app.state.db, older_than=cutoff)
    await sweep_files(app.state.db, app.state.files, grace_seconds=FILE_SWEEP_GRACE_SECONDS)


async def _purge_drafts_loop(app: Starlette, stop: asyncio.Event) -> None:
    """``purge_round`` every hour."""
    while not stop.is_set():
        try:
            await purge_round(app)
        except Exception:  # a failed purge is retried at the next round
            log.exception("draft purge or file sweep failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=DRAFT_PURGE_INTERVAL_SECONDS)


def app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory renderer.app:app_from_env``."""
    return create_app(Settings.from_env())
