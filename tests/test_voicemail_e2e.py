"""Voicemail end to end: Asterisk-format mails with real WAV audio over SMTP to a real `postdesk serve`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from conftest import Desk, make_mail
from postdesk.store.models import Inbound, Outbox, Ticket
from test_desk_e2e import wait_for_outbox, wait_processed
from voicemail_support import (
    asterisk_mail,
    corpus_wav,
    transcriber_script,
    wav_bytes,
    write_config_with_sources,
)

KIM = "Kim Kunde <kim@customer.example>"


def tickets(desk: Desk) -> list[dict[str, Any]]:
    return desk.json("tickets", "list", "--sort", "newest")


def ticket(desk: Desk, number: int | str) -> dict[str, Any]:
    return desk.json("tickets", "show", str(number))


def outbox_rows(desk: Desk) -> int:
    with desk.store.transaction() as session:
        return session.execute(select(func.count()).select_from(Outbox)).scalar_one()


def voicemails(detail: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in detail["messages"] if m["kind"] == "voicemail"]


def processed(desk: Desk) -> int:
    with desk.store.transaction() as session:
        return session.execute(
            select(func.count()).select_from(Inbound).where(Inbound.status != "pending")
        ).scalar_one()


def send_and_wait(desk: Desk, raw: bytes, sender: str = "asterisk@pbx.example.com") -> None:
    """Send one mail and wait until the desk has processed it."""
    before = processed(desk)
    desk.send(raw, sender=sender)
    wait_processed(desk, before + 1)


def test_known_caller_with_an_open_ticket_gets_the_recording_on_it(desk: Desk) -> None:
    desk.send(make_mail(sender=KIM, body="Mein Login klappt nicht.\n"))
    wait_for_outbox(desk, 1)
    desk.run("contacts", "set-phone", "kim@customer.example", "030 1234567")

    # Every common German way of writing the same number, as a PBX may pass it on.
    writings = ["030 1234567", "+49 30 1234567", "0049301234567", "(030) 123 45 67"]
    for index, writing in enumerate(writings):
        send_and_wait(desk, asterisk_mail(number=writing, audio=wav_bytes(7), msgnum=index))

    [row] = tickets(desk)
    assert row["callback"] is True and row["customer"] == "kim@customer.example"
    detail = ticket(desk, row["number"])
    assert [m["kind"] for m in detail["messages"]] == ["customer", "acknowledgement"] + ["voicemail"] * 4
    for message in voicemails(detail):
        assert message["threaded_by"] == "voicemail_caller"
        assert message["from"] == "asterisk@pbx.example.com"
        [recording] = message["attachments"]
        assert recording["filename"] == "msg0000.wav" and recording["content_type"] == "audio/x-wav"
        assert recording["size"] == len(wav_bytes(7))
        call = message["voicemail"]
        assert call["number"] == "+49301234567" and call["known_caller"] is True
        assert call["name"] == "Kim Kunde"
        assert call["duration_seconds"] == pytest.approx(7.0) and call["duration_from"] == "audio"
        assert call["problem"] is None and message["defects"] == []
    assert row["priority"] == "normal"
    assert outbox_rows(desk) == 1  # only the first mail's acknowledgement: no mail for a voicemail on it


def test_known_caller_without_an_open_ticket_gets_a_callback_ticket_and_a_mail(desk: Desk) -> None:
    # Bob's number comes from his own mail's signature; his ticket is closed since.
    signature = "Hello,\nthe invoice is wrong.\n\n-- \nBob Builder\nBuilder Ltd\nMobil: +49 171 2345678\n"
    desk.send(
        make_mail(sender="Bob Builder <bob@builder.example>", body=signature, Content_Language="en"),
        sender="bob@builder.example",
    )
    wait_for_outbox(desk, 1)
    contact = desk.json("contacts", "show", "bob@builder.example")
    [phone] = contact["phones"]
    assert phone["number"] == "+491712345678" and phone["learned"] is True and phone["conflict"] is False
    with desk.store.transaction() as session:
        session.execute(update(Ticket).values(status="closed"))
    # A learned number only names a probable caller (test_voicemail_callers.py); an agent confirms it.
    desk.run("contacts", "set-phone", "bob@builder.example", "+49 171 2345678")

    send_and_wait(desk, asterisk_mail(number="01712345678", name=None, audio=wav_bytes(3)))

    newest, closed = tickets(desk)
    assert closed["status"] == "closed" and closed["callback"] is False
    assert newest["callback"] is True and newest["customer"] == "bob@builder.example"
    assert newest["subject"] == "Voicemail from Bob Builder (+49 171 2345678)"
    assert newest["language"] == "en"  # Bob wrote in English before
    detail = ticket(desk, newest["number"])
    assert [p["email"] for p in detail["participants"]] == ["bob@builder.example"]
    assert [(m["direction"], m["kind"]) for m in detail["messages"]] == [
        ("in", "voicemail"),
        ("out", "voicemail_acknowledgement"),
    ]
    assert detail["messages"][0]["threaded_by"] == "new"

    _, mail = wait_for_outbox(desk, 2)
    assert mail["To"].addresses[0].addr_spec == "bob@builder.example"
    assert mail["Subject"].startswith(f"[Ticket#{newest['number']}] ")
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Reply-To"].addresses[0].addr_spec.startswith(f"support+{newest['number']}-")
    body = mail.get_content()
    assert "Hello Bob Builder" in body and "call you back" in body and "+49 171 2345678" in body
    assert "0:03" in body


def test_unknown_and_anonymous_callers_get_callback_tickets_and_no_mail(desk: Desk) -> None:
    send_and_wait(desk, asterisk_mail(number="040 9876543", name="Hans Fremd", audio=wav_bytes(4)))
    send_and_wait(desk, asterisk_mail(number=None, name=None, audio=wav_bytes(2), msgnum=1))
    # The same unknown number again: onto its open callback ticket, not a third one.
    send_and_wait(desk, asterisk_mail(number="+49409876543", name=None, audio=wav_bytes(5), msgnum=2))

    anonymous, unknown = tickets(desk)
    assert unknown["subject"] == "Voicemail from Hans Fremd (+49 40 9876543)"
    assert anonymous["subject"] == "Voicemail from anonymous"
    assert unknown["callback"] is anonymous["callback"] is True
    assert unknown["customer"] == "asterisk@pbx.example.com"  # nobody else to name
    assert [v["voicemail"]["known_caller"] for v in voicemails(ticket(desk, unknown["number"]))] == [
        False,
        False,
    ]
    assert outbox_rows(desk) == 0

    waiting = desk.json("tickets", "callbacks")
    assert [w["ticket"] for w in waiting] == [unknown["number"], anonymous["number"]]  # oldest first
    first = waiting[0]
    assert first["phone"] == "+49409876543" and first["phone_display"] == "+49 40 9876543"
    assert first["voicemails"] == 2 and first["duration_seconds"] == pytest.approx(5.0)
    assert first["caller_name"] == "Hans Fremd"  # the PBX named the caller in the first call
    assert waiting[1]["phone"] is None and waiting[1]["caller"] == "an unknown caller"
    listing = desk.run("tickets", "callbacks").stdout.decode()
    assert "+49 40 9876543" in listing and "Hans Fremd" in listing and "0:05" in listing

    done = desk.run("tickets", "called", unknown["number"], "--note", "Rückruf erledigt, Termin vereinbart")
    assert b"2 voicemail(s)" in done.stdout
    assert [w["ticket"] for w in desk.json("tickets", "callbacks")] == [anonymous["number"]]
    after = {t["number"]: t for t in tickets(desk)}
    assert after[unknown["number"]]["callback"] is False and after[unknown["number"]]["status"] == "open"
    for message in voicemails(ticket(desk, unknown["number"])):
        assert message["voicemail"]["called_note"] == "Rückruf erledigt, Termin vereinbart"
        assert message["voicemail"]["called_at"]
    again = desk.run("tickets", "called", unknown["number"], check=False)
    assert again.returncode == 1 and b"no callback waiting" in again.stderr


def test_urgent_voicemail_raises_the_priority(desk: Desk) -> None:
    desk.send(make_mail(sender=KIM))
    wait_for_outbox(desk, 1)
    desk.run("contacts", "set-phone", "kim@customer.example", "+49 30 1234567")
    send_and_wait(desk, asterisk_mail(number="0301234567", audio=wav_bytes(2), urgent=True))
    # pbxskip: no "[PBX]: " in front; still recognised, still urgent.
    send_and_wait(desk, asterisk_mail(number="0899999999", audio=wav_bytes(2), urgent=True, pbxskip=True))

    unknown, kims = tickets(desk)
    assert kims["priority"] == "urgent" and kims["callback"] is True
    assert unknown["priority"] == "urgent" and unknown["subject"].endswith("(+49 89 9999999)")
    [call] = voicemails(ticket(desk, unknown["number"]))
    assert call["voicemail"]["urgent"] is True and call["subject"] == "New urgent message 1 in mailbox 100"


def test_broken_or_missing_recordings_are_kept_and_flagged(desk: Desk) -> None:
    cases = {
        "garbage": b"this is no audio at all\x00\xff" * 40,
        "truncated": wav_bytes(6)[:2000],
        "empty": b"",
    }
    for index, audio in enumerate(cases.values()):
        send_and_wait(desk, asterisk_mail(number=None, name=None, audio=audio, duration="0:42", msgnum=index))
    send_and_wait(desk, asterisk_mail(number=None, name=None, audio=None, duration="1:05", msgnum=3))

    flagged = [voicemails(ticket(desk, row["number"]))[0] for row in reversed(tickets(desk))]
    for message, (case, audio) in zip(flagged, cases.items(), strict=False):
        [recording] = message["attachments"]
        assert recording["filename"] == "msg0000.wav" and recording["size"] == len(audio), case
        call = message["voicemail"]
        assert call["problem"] and any(d.startswith("voicemail: ") for d in message["defects"]), case
        assert call["duration_seconds"] == 42.0 and call["duration_from"] == "text", case
    assert "truncated" in flagged[1]["voicemail"]["problem"]
    assert "empty" in flagged[2]["voicemail"]["problem"]
    no_audio = flagged[3]
    assert no_audio["attachments"] == [] and no_audio["voicemail"]["problem"] == "no recording attached"
    assert no_audio["voicemail"]["duration_seconds"] == 65.0
    assert all(row["callback"] for row in tickets(desk))


def test_corpus_wav_and_asterisk_wav49_naming(desk: Desk) -> None:
    audio = corpus_wav()
    # format=wav49 names the file msg0000.WAV and the type audio/x-WAV.
    raw = asterisk_mail(number="0301234567", audio=audio, filename="msg0000.WAV", content_type="audio/x-WAV")
    send_and_wait(desk, raw)
    [row] = tickets(desk)
    [message] = voicemails(ticket(desk, row["number"]))
    assert message["attachments"] == [{"filename": "msg0000.WAV", "content_type": "audio/x-wav", "size": 64}]
    call = message["voicemail"]
    assert call["problem"] is None and call["duration_from"] == "audio"
    assert call["duration_seconds"] == pytest.approx(5 / 44100)  # five stereo frames at 44.1 kHz


def test_learned_numbers_never_overwrite_each_other(desk: Desk) -> None:
    carla = (
        "Hallo,\nbitte um Rückruf.\n\nViele Grüße\nCarla Coder\n"
        "Tel.: (030) 555 66 77 | Fax: (030) 555 66 78\n"
    )
    dave = "Moin,\nsiehe Betreff.\n--\nDave Dev, Coder & Co\nTel. 030 5556677\n"
    desk.send(make_mail(sender="Carla Coder <carla@coder.example>", body=carla), sender="carla@coder.example")
    desk.send(make_mail(sender="Dave Dev <dave@coder.example>", body=dave), sender="dave@coder.example")
    wait_processed(desk, 2)
    for email, other in (
        ("carla@coder.example", "dave@coder.example"),
        ("dave@coder.example", "carla@coder.example"),
    ):
        [phone] = desk.json("contacts", "show", email)["phones"]
        assert phone["number"] == "+49305556677" and phone["learned"] is True
        assert phone["conflict"] is True and phone["shared_with"] == [other]
    assert (
        "CONFLICT: also dave@coder.example"
        in desk.run("contacts", "show", "carla@coder.example").stdout.decode()
    )

    # A number two contacts share names neither: an unknown caller's ticket.
    send_and_wait(desk, asterisk_mail(number="0305556677", name=None, audio=wav_bytes(1)))
    newest = tickets(desk)[0]
    assert (
        newest["customer"] == "asterisk@pbx.example.com"
        and newest["subject"] == "Voicemail from +49 30 5556677"
    )
    with desk.store.transaction() as session:
        result = session.execute(select(Inbound.result).order_by(Inbound.id.desc()).limit(1)).scalar_one()
    assert "number shared by carla@coder.example, dave@coder.example" in result

    # An agent settles it: a number set by hand wins over learned ones.
    settled = desk.run("contacts", "set-phone", "carla@coder.example", "+49 30 5556677")
    assert b"also the number of dave@coder.example" in settled.stderr
    send_and_wait(desk, asterisk_mail(number="0305556677", name=None, audio=wav_bytes(1), msgnum=1))
    carlas = next(t for t in tickets(desk) if t["customer"] == "carla@coder.example")
    assert [m["kind"] for m in ticket(desk, carlas["number"])["messages"]][-1] == "voicemail"
    [phone] = desk.json("contacts", "show", "carla@coder.example")["phones"]
    assert phone["learned"] is False and phone["source"] == "set by agent"


def test_set_phone_refuses_what_is_no_phone_number(desk: Desk) -> None:
    bad = desk.run("contacts", "set-phone", "kim@customer.example", "201", check=False)
    assert bad.returncode == 1 and b"is not a phone number" in bad.stderr
    missing = desk.run("contacts", "show", "nobody@nowhere.example", check=False)
    assert missing.returncode == 1 and b"no contact" in missing.stderr


HOSTED = {
    "name": "hosted",
    "from": ["voicemail@*.hosted-pbx.example"],
    "subject": "^Neue Sprachnachricht",
    "caller": [r"\((?P<caller>[+\d][\d /-]+)\)\s*$", "X-Caller"],
    "caller_name": [r"von (?P<name>.+?) \("],
    "duration": [r"Dauer: (?P<duration>[\d:]+)"],
    "urgent": "(?i)dringend",
    "default_region": "AT",
}


PBX = "voicemail@kunde1.hosted-pbx.example"


def hosted_mail(name: str, number: str, audio: bytes, seconds: str, urgent: bool = False) -> bytes:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = f"Cloud-Telefonanlage <{PBX}>"
    message["To"] = "support@example.com"
    message["Subject"] = f"Neue Sprachnachricht{' (dringend)' if urgent else ''} von {name} ({number})"
    message["Message-ID"] = f"<vm-{number.replace(' ', '')}-{len(audio)}@hosted-pbx.example>"
    message.set_content(f"Sie haben eine neue Sprachnachricht.\nDauer: {seconds}\nPostfach: Support\n")
    message.add_attachment(audio, maintype="audio", subtype="wav", filename="sprachnachricht.wav")
    return message.as_bytes()


def test_a_configured_phone_system_and_the_transcription_hook(
    make_desk: Callable[..., Desk], tmp_path: Path
) -> None:
    script = transcriber_script(tmp_path)
    desk = make_desk(
        {
            "voicemail": {
                "transcribe_command": f"{sys.executable} {script} {{file}}",
                "transcribe_timeout_seconds": 4,
            }
        }
    )
    write_config_with_sources(desk, [HOSTED])
    desk.start()
    desk.run("contacts", "set-phone", "erik@kunde.example", "+43 1 2345678")

    # Vienna number without country code: read in the source's region (AT).
    send_and_wait(desk, hosted_mail("Erik Ek", "01 2345678", wav_bytes(9), "00:00:09"), PBX)
    [erik] = tickets(desk)
    assert erik["customer"] == "erik@kunde.example" and erik["callback"] is True
    assert erik["subject"] == "Voicemail from Erik Ek (+43 1 2345678)"
    [message] = voicemails(ticket(desk, erik["number"]))
    assert message["voicemail"]["source"] == "hosted" and message["voicemail"]["duration_seconds"] == 9.0

    def transcript_status(number: str) -> str | None:
        [call] = voicemails(ticket(desk, number))
        return (
            call["voicemail"]["transcript_status"]
            if call["voicemail"]["transcript_status"] != "pending"
            else None
        )

    desk.wait_until(lambda: transcript_status(erik["number"]) == "done", what="transcription")
    [message] = voicemails(ticket(desk, erik["number"]))
    assert message["text"] == "Hallo, hier ist Kim. Bitte rufen Sie mich zurück. (9 Sekunden)"
    assert message["voicemail"]["transcript_error"] is None

    # A recogniser that hangs is stopped at the time limit; one that fails is logged. Recordings stay.
    send_and_wait(desk, hosted_mail("Lang", "0316 123456", wav_bytes(25), "00:00:25", True), PBX)
    send_and_wait(desk, hosted_mail("Kaputt", "0512 123456", b"RIFF-not-really", "00:00:03"), PBX)
    broken, hanging = tickets(desk)[:2]
    assert hanging["priority"] == "urgent"
    desk.wait_until(lambda: transcript_status(hanging["number"]) == "failed", what="time limit")
    desk.wait_until(lambda: transcript_status(broken["number"]) == "failed", what="failed transcription")
    [slow] = voicemails(ticket(desk, hanging["number"]))
    assert slow["voicemail"]["transcript_error"] == "timed out after 4 s"
    assert (
        slow["text"].startswith("Sie haben eine neue Sprachnachricht") and slow["attachments"][0]["size"] > 0
    )
    [bad] = voicemails(ticket(desk, broken["number"]))
    assert bad["voicemail"]["transcript_error"].startswith("exit status 3: cannot decode")
    assert bad["voicemail"]["problem"] and bad["attachments"][0]["filename"] == "sprachnachricht.wav"
    log = desk.log.read_text()
    assert "transcription failed: timed out after 4 s" in log and "exit status 3" in log

    # The built-in Asterisk source still works next to the configured one.
    send_and_wait(desk, asterisk_mail(number="0043 1 2345678", audio=wav_bytes(1)))
    assert [m["kind"] for m in ticket(desk, erik["number"])["messages"]].count("voicemail") == 2


def test_acknowledgement_templates_exist_in_both_languages() -> None:
    from postdesk.templates.render import MailTemplates

    for language, words in (("de", "rufen Sie"), ("en", "call you back")):
        rendered = MailTemplates().render(
            "voicemail_acknowledgement",
            language,
            desk_name="Support",
            number="10001",
            tag="Ticket#10001",
            customer_name="",
            caller_number="+49 30 1234567",
            duration="0:42",
            reply_address="support+x@example.com",
        )
        assert "[Ticket#10001]" in rendered.subject and words in rendered.body and "0:42" in rendered.body
