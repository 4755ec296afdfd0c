"""The voicemail package's pure parts: numbers, sources, signatures, audio, config, transcription."""

from __future__ import annotations

import sys
import threading
from email.message import EmailMessage
from pathlib import Path

import pytest

from postdesk.config import ConfigError, load_settings
from postdesk.config.model import VoicemailSettings, VoicemailSourceSettings
from postdesk.parse.mime import parse_mail
from postdesk.voicemail.audio import check_recording, clock, recording_index
from postdesk.voicemail.numbers import display, normalise
from postdesk.voicemail.signature import signature_numbers
from postdesk.voicemail.sources import ASTERISK, active_sources, matching_source, parse_seconds, read_call
from postdesk.voicemail.transcribe import run_command
from voicemail_support import asterisk_mail, corpus_wav, wav_bytes


@pytest.mark.parametrize(
    "written",
    [
        "030 1234567",
        "+49 30 1234567",
        "0049301234567",
        "(030) 123 45 67",
        "030/123 45 67",
        "+49 (0)30 1234567",
    ],
)
def test_german_writings_of_one_number_are_one_number(written: str) -> None:
    assert normalise(written, "DE") == "+49301234567"


@pytest.mark.parametrize("written", ["201", "anonymous", "", "an unknown caller", "12"])
def test_extensions_and_words_are_no_phone_numbers(written: str) -> None:
    assert normalise(written, "DE") is None


def test_the_region_reads_numbers_without_country_code() -> None:
    assert normalise("01 2345678", "AT") == "+4312345678"
    assert normalise("0043 1 2345678", "DE") == "+4312345678"
    assert display("+4312345678") == "+43 1 2345678"


def test_asterisk_mail_with_caller_id() -> None:
    mail = parse_mail(asterisk_mail(number="0301234567", name="Jürgen Müller", audio=wav_bytes(1)))
    assert matching_source(mail, [ASTERISK]) is ASTERISK
    call = read_call(mail, ASTERISK, "DE")
    assert (call.number, call.name, call.urgent, call.text_seconds) == (
        "+49301234567",
        "Jürgen Müller",
        False,
        7.0,
    )


def test_asterisk_caller_read_from_the_text_when_headers_are_missing() -> None:
    raw = asterisk_mail(number="0301234567", name="Kim Kunde", duration="1:05")
    stripped = b"\n".join(line for line in raw.split(b"\n") if not line.startswith(b"X-Asterisk"))
    call = read_call(parse_mail(stripped), ASTERISK, "DE")
    assert (call.caller, call.number, call.name) == ('"Kim Kunde" <0301234567>', "+49301234567", "Kim Kunde")
    assert call.text_seconds == 65.0


def test_asterisk_unknown_caller_urgent_and_pbxskip() -> None:
    mail = parse_mail(asterisk_mail(number=None, name=None, urgent=True, pbxskip=True))
    assert mail.subject == "New urgent message 1 in mailbox 100"
    call = read_call(mail, ASTERISK, "DE")
    assert call.anonymous and call.caller == "an unknown caller" and call.urgent and call.name == ""


def test_other_mail_from_the_phone_system_is_not_a_voicemail() -> None:
    message = EmailMessage()
    message["From"] = "Asterisk PBX <asterisk@pbx.example.com>"
    message["Subject"] = "Cron <asterisk@pbx> /usr/sbin/logrotate"
    message.set_content("error: skipping\n")
    assert matching_source(parse_mail(message.as_bytes()), [ASTERISK]) is None
    customer = parse_mail(asterisk_mail(host="pbx.example.com").replace(b"asterisk@", b"kim@"))
    assert matching_source(customer, [ASTERISK]) is None


def test_configured_sources_come_first_and_may_replace_the_builtin_one() -> None:
    own = VoicemailSourceSettings.model_validate(
        {"name": "asterisk", "from": "voicemail@pbx.example.com", "caller": "X-Asterisk-CallerID"}
    )
    other = VoicemailSourceSettings.model_validate(
        {"name": "fritz", "from": "*@fritz.box", "caller": "X-Caller"}
    )
    assert active_sources(VoicemailSettings()) == (ASTERISK,)
    assert active_sources(VoicemailSettings(sources=(other,))) == (other, ASTERISK)
    assert active_sources(VoicemailSettings(sources=(own,))) == (own,)
    assert active_sources(VoicemailSettings(builtin_asterisk=False)) == ()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0:42", 42.0), ("12:05", 725.0), ("1:02:03", 3723.0), ("17", 17.0), ("", None), ("x", None)],
)
def test_durations_as_phone_systems_write_them(text: str, seconds: float | None) -> None:
    assert parse_seconds(text) == seconds
    if seconds is not None:
        assert parse_seconds(clock(seconds)) == seconds


def test_signature_numbers_with_labels_only() -> None:
    text = (
        "Hallo,\nbitte rufen Sie unter der Bestellnummer 0301234567890 an.\n\nViele Grüße\nKim Kunde\n"
        "Kunde GmbH, Hauptstr. 1, 10115 Berlin\nTel.: 030 1234567 | Fax: 030 1234568\n"
        "Mobil: +49 171 2345678\nT: (030) 123 45 99\nPhone (direct): +49 (0)30 7654321\n"
    )
    assert signature_numbers(text, "DE") == ["+49301234567", "+491712345678", "+49301234599", "+49307654321"]


def test_signature_numbers_ignore_quoted_mail_and_text_above_the_delimiter() -> None:
    text = (
        "Tel.: 030 9999999 steht oben\n-- \nKim\nTel 030 1111111\n\n"
        "Am 23.11.2026 schrieb Support:\n> Tel.: 030 2222222\n"
    )
    assert signature_numbers(text, "DE") == ["+49301111111"]
    quoted = "Danke!\n\nOn Mon, Nov 23, 2026 at 10:00 Support <s@example.com> wrote:\n> Phone: 030 2222222\n"
    assert signature_numbers(quoted, "DE") == []


def test_recording_checks() -> None:
    good = wav_bytes(3)
    assert check_recording(good).seconds == pytest.approx(3.0) and check_recording(good).problem is None
    assert "truncated" in (check_recording(good[:500]).problem or "")
    assert "empty" in (check_recording(b"").problem or "")
    assert check_recording(b"no audio here" * 20).seconds is None


def test_a_real_wav_file_of_the_corpus_is_a_good_recording() -> None:
    assert check_recording(corpus_wav()).problem is None


def test_the_recording_is_the_audio_attachment() -> None:
    mail = parse_mail(asterisk_mail(audio=b"ogg", filename="msg0000.ogg", content_type="application/ogg"))
    index = recording_index(mail.attachments)
    assert index is not None and mail.attachments[index].filename == "msg0000.ogg"
    assert recording_index(parse_mail(asterisk_mail(audio=None)).attachments) is None


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            "[voicemail]\ndefault_region = 'XX'\n",
            "[voicemail] default_region: expected a two-letter region code",
        ),
        (
            "[[voicemail.sources]]\nname = 'x'\nfrom = 'a@*'\ncaller = 'from (.+)'\n",
            "[voicemail.sources.0] caller: 'from (.+)': expected a header name or a regular expression",
        ),
        (
            "[[voicemail.sources]]\nname = 'x'\nfrom = 'a@*'\ncaller = 'X-C'\nsubject = '(['\n",
            "[voicemail.sources.0] subject: not a valid regular expression",
        ),
        ("[[voicemail.sources]]\nname = 'x'\ncaller = 'X-C'\n", "[voicemail.sources.0] from: Field required"),
        (
            "[[voicemail.sources]]\nname = 'x'\nfrom = 'a@*'\ncaller = 'X-C'\n"
            "[[voicemail.sources]]\nname = 'x'\nfrom = 'b@*'\ncaller = 'X-C'\n",
            "voicemail source names must be unique; repeated: x",
        ),
        ('[voicemail]\ntranscribe_command = "whisper \'"\n', "[voicemail] transcribe_command: cannot split"),
    ],
)
def test_bad_voicemail_config_gets_one_clear_line(tmp_path: Path, toml: str, expected: str) -> None:
    path = tmp_path / "postdesk.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as error:
        load_settings(path, {})
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_a_source_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "postdesk.toml"
    path.write_text(
        "[voicemail]\ndefault_region = 'ch'\n[[voicemail.sources]]\nname = '3cx'\nfrom = ['vm@*']\n"
        "subject = '^New Voicemail'\ncaller = ['X-Caller', 'from (?P<caller>[+\\d ]+)']\n"
    )
    settings = load_settings(path, {}).voicemail
    assert settings.default_region == "CH"
    [source] = settings.sources
    assert source.from_ == ("vm@*",) and source.caller == ("X-Caller", "from (?P<caller>[+\\d ]+)")


def test_the_transcription_runner(tmp_path: Path) -> None:
    audio = tmp_path / "recording.wav"
    audio.write_bytes(wav_bytes(1))
    never = threading.Event()
    echo = f"{sys.executable} -c 'import sys; print(\"heard\", sys.argv[1:])'"
    assert run_command(echo, audio, 30, never).text == f"heard ['{audio}']"  # the path appended
    assert run_command(echo + " --in {file} x", audio, 30, never).text == f"heard ['--in', '{audio}', 'x']"
    failing = run_command(f"{sys.executable} -c 'import sys; sys.exit(\"no model\")'", audio, 30, never)
    assert failing.text is None and failing.error == "exit status 1: no model"
    missing = run_command("/nonexistent/whisper-cli", audio, 30, never)
    assert missing.text is None and (missing.error or "").startswith("cannot run /nonexistent/whisper-cli")
    hanging = run_command(f"{sys.executable} -c 'import time; time.sleep(60)'", audio, 1, never)
    assert hanging.error == "timed out after 1 s" and not hanging.interrupted
    stopping = threading.Event()
    stopping.set()
    stopped = run_command(f"{sys.executable} -c 'import time; time.sleep(60)'", audio, 30, stopping)
    assert stopped.interrupted and stopped.text is None
