"""Loading and validating settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from postdesk.config import ConfigError, load_settings


def test_no_file_gives_the_embedded_defaults() -> None:
    settings = load_settings(None, {})
    assert settings.store.url == "sqlite:///postdesk.db"
    assert (settings.ingest.smtp.host, settings.ingest.smtp.port) == ("127.0.0.1", 2525)
    assert settings.outbound.transport == "maildir:./outbox"
    assert settings.desk.language == "de" and settings.ingest.smtp.max_message_bytes == 26_214_400


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "postdesk.toml"
    path.write_text('[desk]\naddress = "help@shop.example"\nlanguage = "en"\n[ingest.smtp]\nport = 2600\n')
    settings = load_settings(path, {"POSTDESK_INGEST__SMTP__PORT": "2700", "POSTDESK_CONFIG": "ignored"})
    assert settings.desk.address == "help@shop.example" and settings.desk.language == "en"
    assert settings.ingest.smtp.port == 2700


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[ingest.smtp]\nport = 'abc'\n", "[ingest.smtp] port: Input should be a valid integer"),
        ("[ingest.smtp]\nport = 70000\n", "[ingest.smtp] port: Input should be less than or equal to 65535"),
        ("[desk]\nlanguage = 'fr'\n", "[desk] language: Input should be 'de' or 'en'"),
        ("[desk]\naddress = 'support'\n", "[desk] address: expected a plain mail address"),
        (
            "[outbound]\ntransport = 'ftp://x'\n",
            "[outbound] transport: expected 'maildir:PATH' or 'smtp://HOST:PORT'",
        ),
        ("[store]\nurl = 'mysql://x'\n", "[store] url: expected an SQLAlchemy URL"),
        ("[desk]\nadress = 'x@y.z'\n", "[desk] adress: unknown key"),
        ("[desk\n", "not valid TOML"),
    ],
)
def test_bad_values_get_one_clear_line(tmp_path: Path, toml: str, expected: str) -> None:
    path = tmp_path / "postdesk.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as error:
        load_settings(path, {})
    message = str(error.value)
    assert message.startswith(f"{path}: ") and expected in message
    assert "\n" not in message


def test_environment_errors_name_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^POSTDESK_INGEST__SMTP__PORT: \[ingest.smtp\] port"):
        load_settings(None, {"POSTDESK_INGEST__SMTP__PORT": "x"})


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml", {})


def test_the_desk_options_may_follow_the_sub_command(tmp_path: Path) -> None:
    config = tmp_path / "desk.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "desk.db"}"\n')
    postdesk = [sys.executable, "-m", "postdesk"]
    env = {"PATH": "/usr/bin:/bin"}
    for args in (
        ["db", "upgrade", "--config", str(config)],
        ["tickets", "list", "--json", f"--config={config}", "--log-format", "json"],
        ["--config", str(config), "tickets", "list"],
    ):
        done = subprocess.run([*postdesk, *args], cwd=tmp_path, env=env, capture_output=True, timeout=120)
        assert done.returncode == 0, (args, done.stderr.decode())
    assert (tmp_path / "desk.db").exists() and not (tmp_path / "postdesk.db").exists()
    missing = subprocess.run(
        [*postdesk, "tickets", "list", "--config", str(tmp_path / "nope.toml")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert missing.returncode != 0 and "config file not found" in missing.stderr.decode()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["db", "upgrade"], 1),
        (["tickets", "list"], 1),
        (["serve"], 1),
        (["mailgate", "--recipient", "a@b"], 75),
    ],
)
def test_a_sqlite_store_in_a_missing_folder_is_one_clear_line(
    tmp_path: Path, args: list[str], code: int
) -> None:
    missing = tmp_path / "no" / "such" / "folder"
    env = {"PATH": "/usr/bin:/bin", "POSTDESK_STORE__URL": f"sqlite:///{missing / 'desk.db'}"}
    done = subprocess.run(
        [sys.executable, "-m", "postdesk", *args],
        cwd=tmp_path,
        env=env,
        input=b"From: kim@customer.example\nSubject: hi\n\nhello\n",
        capture_output=True,
        timeout=120,
    )
    error = done.stderr.decode()
    assert done.returncode == code, error
    assert f"the folder {missing} of the SQLite store" in error and "correct [store] url" in error
    assert len(error.strip().splitlines()) == 1 and "SQL" not in error.replace("SQLite", ""), error
    assert not (tmp_path / "no").exists()  # no folder made for a mistyped URL
