"""mailgate's plain settings reader (config/pipe.py) agrees with the settings model.

It takes a key only when the model would take it unchanged; everything else
goes through the model, so errors read exactly as every other command's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from postdesk.config import ConfigError, load_settings
from postdesk.config.model import SmtpListenerSettings, StoreSettings
from postdesk.config.pipe import SMTP_KEYS, STORE_KEYS, PipeSettings, pipe_settings


def test_the_reader_checks_only_keys_the_model_has() -> None:
    assert set(StoreSettings.model_fields) >= STORE_KEYS
    assert set(SmtpListenerSettings.model_fields) >= SMTP_KEYS


def full(path: Path | None, environ: dict[str, str]) -> PipeSettings:
    settings = load_settings(path, environ)
    return PipeSettings(settings.store.url, settings.ingest.smtp.max_message_bytes, settings.own_recipients)


AGREEING = {
    "defaults": "",
    "a store and a limit": '[store]\nurl = "sqlite:////var/lib/desk.db"\nauto_migrate = false\n'
    "[ingest.smtp]\nmax_message_bytes = 1000\nport = 25\n",
    "aliases and queues": '[desk]\naddress = "Help@Example.com"\naliases = ["@help.example", "x@y.example"]\n'
    '[[queues]]\nname = "support"\naddresses = ["billing@example.com"]\n[[queues]]\nname = "empty"\n',
    "postgresql": '[store]\nurl = "postgresql+psycopg://desk@127.0.0.1/desk"\n',
    # The model coerces "1000" from the environment; the plain reader leaves that to it.
    "a limit from the environment": "",
    # The model takes true for 1: the reader leaves that to it too.
    "a limit as a boolean": "[ingest.smtp]\nmax_message_bytes = true\n",
    # A section mailgate does not read is not its concern.
    "another section": "[faq]\nmin_score = 5.0\n",
}


@pytest.mark.parametrize("case", sorted(AGREEING))
def test_plainly_valid_settings_are_read_as_the_model_reads_them(tmp_path: Path, case: str) -> None:
    path = tmp_path / "postdesk.toml"
    path.write_text(AGREEING[case])
    environ = {"POSTDESK_INGEST__SMTP__MAX_MESSAGE_BYTES": "1000"} if "environment" in case else {}
    assert pipe_settings(path, environ) == full(path, environ)


WRONG = {
    "url of another scheme": '[store]\nurl = "mysql://desk"\n',
    "misspelt store key": '[store]\nulr = "sqlite:///other.db"\n',
    "misspelt smtp key": "[ingest.smtp]\nmax_mesage_bytes = 10\n",
    "bad value of a key mailgate does not use": "[ingest.smtp]\nport = 'many'\n",
    "limit of zero": "[ingest.smtp]\nmax_message_bytes = 0\n",
    "store not a table": 'store = "sqlite:///x.db"\n',
    "desk address with a name": '[desk]\naddress = "Support <support@example.com>"\n',
    "bad alias": '[desk]\naliases = ["help"]\n',
    "bad queue address": '[[queues]]\nname = "billing"\naddresses = ["billing"]\n',
    "not toml": "[store\n",
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_anything_else_fails_with_the_models_own_words(tmp_path: Path, case: str) -> None:
    path = tmp_path / "postdesk.toml"
    path.write_text(WRONG[case])
    with pytest.raises(ConfigError) as expected:
        load_settings(path, {})
    with pytest.raises(ConfigError) as got:
        pipe_settings(path, {})
    assert str(got.value) == str(expected.value)


def test_a_mistake_in_a_section_mailgate_does_not_read_holds_up_no_mail(tmp_path: Path) -> None:
    path = tmp_path / "postdesk.toml"
    path.write_text('[store]\nurl = "sqlite:///desk.db"\n[faq]\nmin_scor = 5.0\n')
    with pytest.raises(ConfigError, match=r"\[faq\] min_scor: unknown key"):
        load_settings(path, {})
    assert pipe_settings(path, {}).store_url == "sqlite:///desk.db"
