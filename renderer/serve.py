"""The serving commands behind ``guichet migrate | run | settings`` (called by renderer.cli).

Each takes the argparse namespace and returns the process exit status. Configuration
problems are printed as one readable message, never as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import textwrap

from engine.errors import DefinitionErrors
from renderer.settings import Settings, SettingsError


def _settings() -> Settings | None:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def cmd_settings(args: argparse.Namespace) -> int:
    """Print every setting: name, current value, help."""
    settings = _settings()
    if settings is None:
        return 1
    for name, value, help_text in settings.describe():
        print(f"{name}={value}")
        print(textwrap.indent(textwrap.fill(help_text, width=90), "    "))
    return 0


async def _migrate(url: str) -> list[int]:
    from storage.db import connect
    from storage.migrations import migrate

    db = await connect(url)
    try:
        return await migrate(db)
    finally:
        await db.disconnect()


def cmd_migrate(args: argparse.Namespace) -> int:
    """Connect to the database and apply the pending migrations."""
    settings = _settings()
    if settings is None:
        return 1
    if settings.db_url.startswith("sqlite:///"):
        # The SQLite file's folder must exist before the first connection.
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    try:
        applied = asyncio.run(_migrate(settings.db_url))
    except Exception as exc:  # report connection problems without a traceback
        print(f"error: cannot migrate {settings.db_url}: {exc}", file=sys.stderr)
        return 1
    if applied:
        print("Applied migrations: " + ", ".join(str(v) for v in applied))
    else:
        print("The database is up to date.")
    return 0


def resolve_port(args: argparse.Namespace) -> int:
    port = getattr(args, "port", None) or os.environ.get("PORT") or 8000
    try:
        return int(port)
    except ValueError:
        raise SettingsError(f"Setting PORT has value {port!r}. Not a valid integer.") from None


def served_settings(settings: Settings, host: str, port: int) -> Settings:
    """``settings`` for serving at ``host:port``: unless GUICHET_BASE_URL is set, the links
    of the emails point to that address (``PORT=8080 make run`` mails links to port 8080)."""
    if os.environ.get("GUICHET_BASE_URL"):
        return settings
    return dataclasses.replace(settings, base_url=f"http://{host}:{port}")


def cmd_run(args: argparse.Namespace) -> int:
    """Serve the portal with uvicorn, one process."""
    import uvicorn

    from renderer.app import create_app

    settings = _settings()
    if settings is None:
        return 1
    try:
        port = resolve_port(args)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    host = getattr(args, "host", None) or "127.0.0.1"
    settings = served_settings(settings, host, port)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    if getattr(args, "reload", False):
        # Development: uvicorn re-imports the app factory in a child process on code changes.
        uvicorn.run("renderer.app:app_from_env", factory=True, host=host, port=port, reload=True)
        return 0
    try:
        app = create_app(settings)
    except DefinitionErrors as exc:
        count = len(exc.problems)
        print(f"error: the definitions have {count} problem(s); not starting:", file=sys.stderr)
        print(str(exc), file=sys.stderr)
        return 1
    print(
        f"Guichet: http://{host}:{port}/ (definitions: {', '.join(map(str, settings.definitions))})"
    )
    uvicorn.run(app, host=host, port=port, log_level="info")
    return 0
