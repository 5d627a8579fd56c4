"""The settings registry: defaults, parsing, errors that name the bad value, the CLI print."""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path

import pytest

from renderer import serve
from renderer.settings import SETTINGS, Settings, SettingsError


def test_defaults_suit_make_run() -> None:
    settings = Settings.from_env({})
    assert settings.db_url == "sqlite:///var/guichet.sqlite3"
    assert settings.definitions == (Path("definitions"),)
    assert settings.mail_folder == Path("var/mail")
    assert settings.files_folder == Path("var/files")
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.draft_ttl_hours == 48
    assert settings.migrate_on_start is True


def test_environment_values_are_parsed() -> None:
    env = {
        "DATABASE_URL": "postgresql://u@db/guichet",
        "GUICHET_DEFINITIONS": "vendor:commune",
        "GUICHET_DRAFT_TTL_HOURS": "12",
        "GUICHET_MIGRATE_ON_START": "no",
        "GUICHET_VAR_DIR": "/srv/guichet",
        "GUICHET_MAX_UPLOAD_MB": "5",
    }
    settings = Settings.from_env(env)
    assert settings.db_url == "postgresql://u@db/guichet"
    assert settings.definitions == (Path("vendor"), Path("commune"))
    assert settings.draft_ttl_hours == 12
    assert settings.migrate_on_start is False
    assert settings.mail_folder == Path("/srv/guichet/mail")
    assert settings.max_file_bytes(portal_limit_mb=10) == 5 * 1024 * 1024


def test_database_default_follows_the_var_folder() -> None:
    assert (
        Settings.from_env({"GUICHET_VAR_DIR": "/tmp/x"}).db_url
        == "sqlite:////tmp/x/guichet.sqlite3"
    )


def test_upload_limit_defaults_to_the_portal_limit() -> None:
    settings = Settings.from_env({"GUICHET_MAX_FILES": "4"})
    assert settings.max_file_bytes(portal_limit_mb=10) == 10 * 1024 * 1024
    assert settings.max_request_bytes(portal_limit_mb=10) == 41 * 1024 * 1024


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "GUICHET_DRAFT_TTL_HOURS",
            "abc",
            "Setting GUICHET_DRAFT_TTL_HOURS has value 'abc'. Not a valid integer.",
        ),
        (
            "GUICHET_MAX_FIELDS",
            "0",
            "Setting GUICHET_MAX_FIELDS has value '0'. Must be at least 1.",
        ),
        (
            "GUICHET_MIGRATE_ON_START",
            "maybe",
            "Setting GUICHET_MIGRATE_ON_START has value 'maybe'. "
            "Not a valid boolean (use true or false).",
        ),
        (
            "DATABASE_URL",
            "mysql://db",
            "Setting DATABASE_URL has value 'mysql://db'. "
            "Expected sqlite:///path or postgresql://user@host/db.",
        ),
        (
            "GUICHET_SMTP_URL",
            "mail.example:25",
            "Setting GUICHET_SMTP_URL has value 'mail.example:25'. "
            "Expected smtp://[user:password@]host[:port][?starttls=1] or smtps://.",
        ),
    ],
    ids=["int", "positive", "bool", "database", "smtp"],
)
def test_bad_values_are_named(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({name: value})
    assert str(raised.value) == message


def test_overrides_by_attribute_or_name() -> None:
    settings = Settings.from_env({}, draft_ttl_hours=3, GUICHET_MAX_FILES="7")
    assert (settings.draft_ttl_hours, settings.max_files) == (3, 7)
    with pytest.raises(SettingsError, match="Unknown setting 'colour'"):
        Settings.from_env({}, colour="red")


def test_secret_key_is_generated_once_private(tmp_path: Path) -> None:
    settings = Settings.from_env({"GUICHET_VAR_DIR": str(tmp_path / "var")})
    first = settings.secret()
    assert len(first) >= 40
    assert settings.secret() == first
    mode = stat.S_IMODE(os.stat(tmp_path / "var" / "secret_key").st_mode)
    assert mode == 0o600
    assert Settings.from_env({"GUICHET_SECRET_KEY": "given"}).secret() == "given"


def test_every_setting_has_help_and_is_printed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUICHET_SMTP_URL", "smtp://mairie:hunter2@mail.example:587")
    assert serve.cmd_settings(argparse.Namespace()) == 0
    out = capsys.readouterr().out
    for setting in SETTINGS:
        assert setting.help
        assert f"{setting.name}=" in out
    assert "hunter2" not in out
    assert "GUICHET_SMTP_URL=smtp://mairie:***@mail.example:587" in out


def test_cli_reports_a_bad_setting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUICHET_DRAFT_TTL_HOURS", "abc")
    assert serve.cmd_settings(argparse.Namespace()) == 1
    err = capsys.readouterr().err
    assert err == "error: Setting GUICHET_DRAFT_TTL_HOURS has value 'abc'. Not a valid integer.\n"


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in readme]
    assert missing == []


def test_migrate_command_applies_then_reports_up_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GUICHET_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert serve.cmd_migrate(argparse.Namespace()) == 0
    assert capsys.readouterr().out.startswith("Applied migrations: 1")
    assert serve.cmd_migrate(argparse.Namespace()) == 0
    assert capsys.readouterr().out == "The database is up to date.\n"


def test_run_refuses_invalid_definitions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "portal.yaml").write_text("name: Test\nthemes: []\nrequierd: true\n")
    monkeypatch.setenv("GUICHET_DEFINITIONS", str(pack))
    monkeypatch.setenv("GUICHET_VAR_DIR", str(tmp_path / "var"))
    assert serve.cmd_run(argparse.Namespace(host=None, port=None)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the definitions have 1 problem(s); not starting:\n")
    assert "requierd" in err


def test_run_links_the_emails_to_its_own_port_unless_the_base_url_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GUICHET_BASE_URL", raising=False)
    served = serve.served_settings(Settings(), "127.0.0.1", 8766)
    assert served.base_url == "http://127.0.0.1:8766"
    monkeypatch.setenv("GUICHET_BASE_URL", "https://demarches.belval.fr")
    settings = Settings.from_env()
    assert serve.served_settings(settings, "127.0.0.1", 8766).base_url == (
        "https://demarches.belval.fr"
    )
