"""Voicemail test material: real WAV audio and mails the way Asterisk's app_voicemail writes them."""

from __future__ import annotations

import io
import json
import math
import secrets
import struct
import wave
from email.encoders import encode_base64
from email.header import Header
from email.mime.audio import MIMEAudio
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import formataddr
from pathlib import Path
from typing import Any

from conftest import Desk, toml_dump
from corpus import corpus_file

# A real WAV file of the corpus (CPython's email tests' sndhdr sample).
SNDHDR_WAV = "cpython-test_email/payloads/sndhdr.wav"


def corpus_wav() -> bytes:
    """The corpus' WAV file; skips the test when the corpus is absent."""
    return corpus_file(SNDHDR_WAV).read_bytes()


# Asterisk's emaildateformat default, "%A, %B %d, %Y at %r".
ASTERISK_DATE = "Monday, November 23, 2026 at 10:15:03 AM"


def wav_bytes(seconds: float, rate: int = 8000, frequency: float = 440.0) -> bytes:
    """A real mono 16-bit WAV file holding a tone: what a phone system records, give or take the voice."""
    frames = int(seconds * rate)
    samples = (int(8000 * math.sin(2 * math.pi * frequency * i / rate)) for i in range(frames))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", sample) for sample in samples))
    return buffer.getvalue()


def asterisk_mail(
    *,
    number: str | None = "0301234567",
    name: str | None = "Kim Kunde",
    audio: bytes | None = None,
    duration: str = "0:07",
    msgnum: int = 0,
    mailbox: str = "100",
    urgent: bool = False,
    pbxskip: bool = False,
    filename: str = "msg0000.wav",
    content_type: str = "audio/x-wav",
    host: str = "pbx.example.com",
    to: str = "support@example.com",
) -> bytes:
    """A voicemail mail as app_voicemail's make_email_file builds it (default emailbody, attach=yes).

    Caller ID headers only when there is caller ID; the text names the
    caller as '"Name" <number>', the number alone, or "an unknown caller".
    """
    message = MIMEMultipart("mixed", policy=compat32)
    message["Date"] = "Mon, 23 Nov 2026 10:15:03 +0100"
    message["From"] = formataddr(("Asterisk PBX", f"asterisk@{host}"))
    message["To"] = formataddr(("Support Hotline", to))
    prefix = "" if pbxskip else "[PBX]: "
    message["Subject"] = f"{prefix}New {'urgent ' if urgent else ''}message {msgnum + 1} in mailbox {mailbox}"
    # app_voicemail's form: <Asterisk-MSGNUM-RANDOM-MAILBOX-PID@HOST>.
    message["Message-ID"] = f"<Asterisk-{msgnum}-{secrets.randbelow(10**9)}-{mailbox}-4242@{host}>"
    if number:
        message["X-Asterisk-CallerID"] = number
    if name:
        message["X-Asterisk-CallerIDName"] = Header(name, "iso-8859-1")
    # ast_callerid_merge: '"Name" <number>', else whichever is known.
    caller = f'"{name}" <{number}>' if number and name else number or name or "an unknown caller"
    flag = "Urgent " if urgent else ""
    body = (
        "Dear Support Hotline:\n\n"
        "\tJust wanted to let you know you were just "
        f"left a {duration} long {flag}message (number {msgnum + 1})\n"
        f"in mailbox {mailbox} from {caller}, on {ASTERISK_DATE} so you might\n"
        "want to check it when you get a chance.  Thanks!\n\n\t\t\t\t--Asterisk\n"
    )
    text = MIMENonMultipart("text", "plain", charset="ISO-8859-1")
    text.set_payload(body.encode("iso-8859-1"))
    text["Content-Transfer-Encoding"] = "8bit"
    message.attach(text)
    if audio is not None:
        maintype, _, subtype = content_type.partition("/")
        part = (
            MIMEAudio(audio, subtype, name=filename)
            if maintype == "audio"
            else _application(audio, subtype, filename)
        )
        part["Content-Description"] = "Voicemail sound attachment."
        part.add_header("Content-Disposition", "attachment", filename=filename)
        message.attach(part)
    return message.as_bytes()


def _application(data: bytes, subtype: str, filename: str) -> MIMENonMultipart:
    part = MIMENonMultipart("application", subtype, name=filename)
    part.set_payload(data)
    encode_base64(part)
    return part


def write_config_with_sources(desk: Desk, sources: list[dict[str, Any]]) -> None:
    """conftest writes plain tables; [[voicemail.sources]] is an array of tables, written here."""

    def write() -> None:
        text = toml_dump(desk.settings)
        for source in sources:
            text += "\n[[voicemail.sources]]\n" + "".join(
                f"{k} = {json.dumps(v)}\n" for k, v in source.items()
            )
        desk.config.write_text(text)

    desk.write_config = write  # type: ignore[method-assign]
    write()


def transcriber_script(folder: Path) -> Path:
    """A small real speech-recogniser stand-in: reads the WAV, prints what it heard, fails like one."""
    script = folder / "transcribe.py"
    script.write_text(
        "import sys, time, wave\n"
        "try:\n"
        "    with wave.open(sys.argv[1]) as audio:\n"
        "        frames, rate = audio.getnframes(), audio.getframerate()\n"
        "except (wave.Error, EOFError) as error:\n"
        "    print(f'cannot decode: {error}', file=sys.stderr)\n"
        "    sys.exit(3)\n"
        "seconds = frames / rate\n"
        "if seconds > 20:\n"
        "    time.sleep(120)  # a recogniser that hangs\n"
        "print(f'Hallo, hier ist Kim. Bitte rufen Sie mich zurück. ({seconds:.0f} Sekunden)')\n"
    )
    return script
