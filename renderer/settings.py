"""The settings registry: every environment variable the portal reads, with default and help.

Settings are read once at startup (``Settings.from_env``), checked for type, and printed by
``guichet settings``. Errors name the bad value, so an operator knows what to fix:
``Setting GUICHET_DRAFT_TTL_HOURS has value 'abc'. Not a valid integer.``
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A setting whose value cannot be used; the message names the setting and the value."""


@dataclass(frozen=True, slots=True)
class Setting:
    name: str  # the environment variable
    default: str  # as it would be written in the environment; "" = unset or derived
    help: str
    type: str = "str"  # a key of PARSERS

    @property
    def attr(self) -> str:
        """The attribute of ``Settings`` that holds the parsed value."""
        return ATTRIBUTES.get(self.name, self.name.lower().removeprefix("guichet_"))


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "DATABASE_URL",
        "",
        "Database URL: sqlite:///path or postgresql://user@host/db. "
        "Default: sqlite:///<GUICHET_VAR_DIR>/guichet.sqlite3.",
        "database_url",
    ),
    Setting(
        "GUICHET_DEFINITIONS",
        "definitions",
        "Definition pack folders, ':'-separated layers (base first, overlays after).",
        "paths",
    ),
    Setting(
        "GUICHET_SECRET_KEY",
        "",
        "Key that signs session cookies. Empty: generated once into <GUICHET_VAR_DIR>/secret_key "
        "(development only; production must set it).",
    ),
    Setting(
        "GUICHET_SMTP_URL",
        "",
        "SMTP server, e.g. smtp://user:password@host:587?starttls=1. "
        "Empty: each email is written as an .eml file under GUICHET_MAIL_DIR.",
        "smtp_url",
    ),
    Setting(
        "GUICHET_MAIL_DIR", "", "Folder of .eml files. Default: <GUICHET_VAR_DIR>/mail.", "path"
    ),
    Setting("GUICHET_MAIL_FROM", "", "Sender address of emails. Default: the portal's contact."),
    Setting(
        "GUICHET_FILES_DIR",
        "",
        "Folder of uploaded files (content-addressed, outside any web root). "
        "Default: <GUICHET_VAR_DIR>/files.",
        "path",
    ),
    Setting(
        "GUICHET_BASE_URL",
        "http://127.0.0.1:8000",
        "Public address of the portal, used in the links of emails. "
        "Unset, `guichet run` uses its own host and port.",
    ),
    Setting(
        "GUICHET_DRAFT_TTL_HOURS", "48", "Hours after which an untouched draft is dropped.", "int"
    ),
    Setting(
        "GUICHET_OUTBOX_INTERVAL_SECONDS",
        "5",
        "Seconds between two rounds of the mail worker (each round sends every due mail).",
        "int",
    ),
    Setting(
        "GUICHET_MAX_UPLOAD_MB",
        "",
        "Maximum size of one uploaded file, in MB. Default: the portal's limits.max_file_size_mb.",
        "int",
    ),
    Setting("GUICHET_MAX_FILES", "16", "Maximum number of files in one request.", "int"),
    Setting("GUICHET_MAX_FIELDS", "500", "Maximum number of form fields in one request.", "int"),
    Setting(
        "GUICHET_MAX_REQUEST_MB",
        "",
        "Maximum size of a request body, in MB. "
        "Default: GUICHET_MAX_FILES x the maximum file size, plus 1.",
        "int",
    ),
    Setting(
        "GUICHET_MIGRATE_ON_START",
        "true",
        "Apply database migrations when the server starts.",
        "bool",
    ),
    Setting(
        "GUICHET_VAR_DIR", "var", "Folder of the runtime data (database, mail, files).", "path"
    ),
)

ATTRIBUTES = {"DATABASE_URL": "database_url"}
EMPTY_SHOWN = {
    "GUICHET_SMTP_URL": "(empty: mail is written to GUICHET_MAIL_DIR)",
    "GUICHET_MAIL_FROM": "(the portal's contact email)",
    "GUICHET_MAX_UPLOAD_MB": "(the portal's limits.max_file_size_mb)",
}
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def _parse_int(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError("Not a valid integer.") from None
    if value < 1:
        raise ValueError("Must be at least 1.")
    return value


def _parse_bool(raw: str) -> bool:
    text = raw.strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError("Not a valid boolean (use true or false).")


def _parse_database_url(raw: str) -> str:
    url = raw.strip()
    if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ValueError("Expected sqlite:///path or postgresql://user@host/db.")
    return url


def _parse_smtp_url(raw: str) -> str:
    url = raw.strip()
    scheme, sep, rest = url.partition("://")
    if scheme not in {"smtp", "smtps"} or not sep or not rest.rpartition("@")[2].strip("/"):
        raise ValueError("Expected smtp://[user:password@]host[:port][?starttls=1] or smtps://.")
    return url


def _parse_paths(raw: str) -> tuple[Path, ...]:
    paths = tuple(Path(p) for p in raw.split(":") if p.strip())
    if not paths:
        raise ValueError("Give at least one folder.")
    return paths


PARSERS: dict[str, Callable[[str], Any]] = {
    "str": str.strip,
    "int": _parse_int,
    "bool": _parse_bool,
    "path": Path,
    "paths": _parse_paths,
    "database_url": _parse_database_url,
    "smtp_url": _parse_smtp_url,
}


@dataclass(frozen=True)
class Settings:
    """Parsed settings. Empty strings and ``None`` mean "derived" (see ``SETTINGS`` help)."""

    database_url: str = ""
    definitions: tuple[Path, ...] = (Path("definitions"),)
    secret_key: str = ""
    smtp_url: str = ""
    mail_dir: Path | None = None
    mail_from: str = ""
    files_dir: Path | None = None
    base_url: str = "http://127.0.0.1:8000"
    draft_ttl_hours: int = 48
    outbox_interval_seconds: int = 5
    max_upload_mb: int | None = None
    max_files: int = 16
    max_fields: int = 500
    max_request_mb: int | None = None
    migrate_on_start: bool = True
    var_dir: Path = Path("var")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every setting from ``env`` (default ``os.environ``), then apply ``overrides``.

        Overrides are keyed by attribute (``draft_ttl_hours=``) or variable name
        (``GUICHET_DRAFT_TTL_HOURS=``); a string override is parsed like the environment.
        """
        source = os.environ if env is None else env
        by_attr = {s.attr: s for s in SETTINGS}
        by_name = {s.name: s for s in SETTINGS}
        values: dict[str, Any] = {}
        for setting in SETTINGS:
            raw = source.get(setting.name, setting.default)
            values[setting.attr] = _parse(setting, raw)
        for key, value in overrides.items():
            setting = by_name.get(key) or by_attr.get(key)
            if setting is None:
                raise SettingsError(f"Unknown setting {key!r}.")
            values[setting.attr] = _parse(setting, value) if isinstance(value, str) else value
        return cls(**values)

    # Derived values: one place decides what an unset setting means.

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'guichet.sqlite3'}"

    @property
    def mail_folder(self) -> Path:
        return self.mail_dir or self.var_dir / "mail"

    @property
    def files_folder(self) -> Path:
        return self.files_dir or self.var_dir / "files"

    def max_file_bytes(self, portal_limit_mb: int) -> int:
        return (self.max_upload_mb or portal_limit_mb) * 1024 * 1024

    def max_request_bytes(self, portal_limit_mb: int) -> int:
        if self.max_request_mb:
            return self.max_request_mb * 1024 * 1024
        return self.max_file_bytes(portal_limit_mb) * self.max_files + 1024 * 1024

    def secret(self) -> str:
        """The session key: the setting, or one generated once under the var folder."""
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # O_EXCL: two processes starting at once must not overwrite each other's key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        return key

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, value as shown, help) for every setting; secrets are masked."""
        rows = []
        for setting in SETTINGS:
            rows.append((setting.name, self._shown(setting), setting.help))
        return rows

    def _shown(self, setting: Setting) -> str:
        derived = {
            "DATABASE_URL": self.db_url,
            "GUICHET_MAIL_DIR": str(self.mail_folder),
            "GUICHET_FILES_DIR": str(self.files_folder),
        }
        if setting.name in derived:
            return derived[setting.name]
        value = getattr(self, setting.attr)
        if setting.name == "GUICHET_SECRET_KEY":
            return "(set)" if value else f"(generated in {self.var_dir / 'secret_key'})"
        if setting.name == "GUICHET_SMTP_URL" and value:
            return _mask_password(value)
        if value is None or value == "":
            return EMPTY_SHOWN.get(setting.name, "(derived)")
        if isinstance(value, tuple):
            return ":".join(str(p) for p in value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _parse(setting: Setting, raw: str) -> Any:
    if raw.strip() == "" and setting.type != "bool":
        return _empty(setting)
    try:
        return PARSERS[setting.type](raw)
    except ValueError as exc:
        raise SettingsError(f"Setting {setting.name} has value {raw!r}. {exc}") from None


def _empty(setting: Setting) -> Any:
    if setting.default:
        return PARSERS[setting.type](setting.default)
    if setting.type in {"int", "path"}:
        return None
    return ""


def _mask_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"
