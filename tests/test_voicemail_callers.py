"""A learned phone number is a hint, not an identity (issue 17.3), end to end over SMTP to a real
`postdesk serve` with agents: Asterisk voicemails with real WAV audio, agents replying by mail."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest

from agents_support import ANNA, KIM, mail_to, messages, processed, reply_to, start_agent_desk
from conftest import Desk, make_mail
from voicemail_support import asterisk_mail, wav_bytes

MALLORY = "mallory@stranger.example"
PBX = "asterisk@pbx.example.com"
TODAY = f"{datetime.now(UTC):%Y-%m-%d}"


@pytest.fixture
def agent_desk(make_desk) -> Desk:
    return start_agent_desk(make_desk())


class Counter:
    """How many mails the test has sent the desk: each step waits until all are processed."""

    def __init__(self, desk: Desk) -> None:
        self.desk, self.sent = desk, 0

    def send(self, mail: EmailMessage | bytes, sender: str, recipients: tuple[str, ...] = ()) -> None:
        self.desk.send(mail, sender=sender, recipients=recipients or ("support@example.com",))
        self.sent += 1
        processed(self.desk, self.sent)

    def customer(self, sender: str, body: str, subject: str = "Frage") -> None:
        self.send(make_mail(sender=sender, subject=subject, body=body), sender.split("<")[-1].strip(">"))

    def call(self, number: str, msgnum: int = 0) -> None:
        self.send(asterisk_mail(number=number, name=None, audio=wav_bytes(3), msgnum=msgnum), PBX)

    def agent(self, notification: EmailMessage, body: str, sender: str = f"Anna <{ANNA}>") -> None:
        self.send(reply_to(notification, body, sender=sender), ANNA, (notification["Reply-To"],))


def show(desk: Desk, number: int) -> dict[str, Any]:
    return desk.json("tickets", "show", str(number))


def notification_for(desk: Desk, number: int) -> EmailMessage:
    [found] = [
        m for m in mail_to(desk, ANNA) if f"[Ticket#{number}]" in m["Subject"] and m["Reply-To"] is not None
    ]
    return found


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    return body.get_content() if body is not None else ""


def phone(desk: Desk, email: str) -> dict[str, Any]:
    [row] = desk.json("contacts", "show", email)["phones"]
    return row


def with_signature(name: str, number: str) -> str:
    return f"Guten Tag,\nbitte rufen Sie mich an.\n\n-- \n{name}\nTel.: {number}\n"


def test_a_stranger_claims_kims_number_and_learns_nothing_of_her_call(agent_desk: Desk) -> None:
    steps = Counter(agent_desk)
    steps.customer(f"Kim Kunde <{KIM}>", "Mein Postfach ist voll.\nKim\n")  # no number: ticket 10001
    steps.customer(f"Mallory <{MALLORY}>", with_signature("Mallory", "030 1234567"))  # Kim's: 10002
    assert phone(agent_desk, MALLORY)["learned"] is True
    steps.call("0301234567")  # Kim calls

    callback = show(agent_desk, 10003)
    assert callback["customer"] == PBX and callback["callback"] is True
    assert [p["email"] for p in callback["probable_callers"]] == [MALLORY]
    [guess] = callback["probable_callers"]
    assert guess["learned_on"] == TODAY and guess["learned_from"].startswith("signature of message ")
    assert guess["display"] == "+49 30 1234567"
    [voicemail] = [m for m in callback["messages"] if m["kind"] == "voicemail"]
    assert voicemail["voicemail"]["known_caller"] is False
    assert "voicemail" not in [m["kind"] for m in show(agent_desk, 10002)["messages"]]
    [ack] = mail_to(agent_desk, MALLORY)  # his own mail's acknowledgement, nothing of the call
    assert "Sprachnachricht" not in ack.get_content() and "0:03" not in ack.get_content()
    listing = agent_desk.run("tickets", "show", "10003").stdout.decode()
    assert f"caller not confirmed: probably {MALLORY}" in listing
    [waiting] = agent_desk.json("tickets", "callbacks")
    assert waiting["customer"] is None and [p["email"] for p in waiting["probable_callers"]] == [MALLORY]
    assert "probably Mallory?" in agent_desk.run("tickets", "callbacks").stdout.decode()

    notification = notification_for(agent_desk, 10003)
    body = text_of(notification)
    assert "ANRUFER NICHT BESTÄTIGT" in body and f"Mallory <{MALLORY}>" in body
    assert f"Nummer aus der Signatur vom {TODAY}" in body and "#confirm-caller" in body

    preview = agent_desk.run("templates", "render", "agent_caller_unconfirmed", "--ticket", "10003").stdout
    assert f"Mallory <{MALLORY}>" in preview.decode() and "Nicht verschickt" in preview.decode()
    english = agent_desk.run("templates", "render", "agent_notification", "--ticket", "10003", "--lang", "en")
    assert "CALLER NOT CONFIRMED" in english.stdout.decode()

    # Anna answers before calling back: held, and she is told why; nothing to Mallory nor the phone system.
    steps.agent(notification, "Hallo,\n\nwir haben Ihr Passwort zurückgesetzt: Geheim-4711\n\nAnna")
    assert len(mail_to(agent_desk, MALLORY)) == 1 and mail_to(agent_desk, PBX) == []
    [held] = [m for m in mail_to(agent_desk, ANNA) if "Nicht verschickt" in m["Subject"]]
    assert "[Ticket#10003]" in held["Subject"] and "nicht bestätigt" in held["Subject"]
    assert f"Mallory <{MALLORY}>" in held.get_content() and "#confirm-caller" in held.get_content()
    [rejected] = [m for m in messages(agent_desk, 10003) if m["kind"] == "agent_rejected"]
    assert (
        "Geheim-4711" in rejected["text"] and "not sent: the caller is not confirmed" in rejected["defects"]
    )

    # Mallory got hold of Anna's reply address: his #confirm-caller confirms nothing.
    steps.agent(notification, "#confirm-caller\n\nIch bin es, bitte an mich.", sender=f"Mallory <{MALLORY}>")
    assert [p["email"] for p in show(agent_desk, 10003)["probable_callers"]] == [MALLORY]
    assert show(agent_desk, 10003)["customer"] == PBX and phone(agent_desk, MALLORY)["learned"] is True
    assert "quarantined" in [m["kind"] for m in messages(agent_desk, 10003)]
    assert len(mail_to(agent_desk, MALLORY)) == 1

    # Anna called back: it was Kim. She confirms her, and the reply in the same mail goes to Kim.
    steps.agent(
        notification, f"#confirm-caller {KIM}\n\nHallo Frau Kunde,\nwie besprochen: Geheim-4711\n\nAnna"
    )
    confirmed = show(agent_desk, 10003)
    assert confirmed["customer"] == KIM and confirmed["probable_callers"] == []
    assert [p["email"] for p in confirmed["participants"]] == [KIM]
    answer = [m for m in mail_to(agent_desk, KIM) if "Geheim-4711" in text_of(m)]
    assert len(answer) == 1 and "[Ticket#10003]" in answer[0]["Subject"]
    kims = phone(agent_desk, KIM)
    assert kims["learned"] is False and kims["source"] == f"confirmed by agent {ANNA} on {TODAY}"
    assert kims["shared_with"] == [MALLORY] and kims["conflict"] is True
    assert len(mail_to(agent_desk, MALLORY)) == 1 and not any(
        "Geheim" in m.as_string() for m in mail_to(agent_desk, MALLORY)
    )
    explained = agent_desk.run("triage", "explain", "10003").stdout.decode()
    assert f"caller confirmed: {KIM} (+49 30 1234567)" in explained

    # From now on the number is Kim's: her next call goes onto her newest open ticket.
    steps.call("030 1234567", msgnum=1)
    assert [m["kind"] for m in show(agent_desk, 10003)["messages"]].count("voicemail") == 2
    assert len(agent_desk.json("tickets", "list")) == 3


def test_confirming_the_one_named_caller_then_calls_route_as_today(agent_desk: Desk) -> None:
    steps = Counter(agent_desk)
    steps.customer(f"Kim Kunde <{KIM}>", with_signature("Kim Kunde", "+49 30 1234567"))  # 10001
    steps.call("0301234567")  # 10002, naming Kim
    assert show(agent_desk, 10002)["customer"] == PBX
    assert len(mail_to(agent_desk, KIM)) == 1  # the acknowledgement of her mail; no voicemail mail
    notification = notification_for(agent_desk, 10002)
    assert "diesem Kontakt" in text_of(notification)

    steps.agent(
        notification, "#confirm-caller\n\nHallo Kim,\nich habe Sie eben erreicht, alles erledigt.\n\nAnna"
    )
    assert show(agent_desk, 10002)["customer"] == KIM
    [answer] = [m for m in mail_to(agent_desk, KIM) if "alles erledigt" in text_of(m)]
    assert answer["From"].addresses[0].addr_spec == "support@example.com"
    assert phone(agent_desk, KIM)["source"] == f"confirmed by agent {ANNA} on {TODAY}"

    # Her tickets closed, she calls again: a confirmed number routes as a number an agent set.
    steps.agent(notification, "#close")
    steps.agent(notification_for(agent_desk, 10001), "#close")
    steps.call("030 1234567", msgnum=1)
    newest = show(agent_desk, 10003)
    assert newest["customer"] == KIM and newest["probable_callers"] == []
    assert [m["kind"] for m in newest["messages"]][:2] == ["voicemail", "voicemail_acknowledgement"]
    [ack] = [m for m in mail_to(agent_desk, KIM) if "[Ticket#10003]" in m["Subject"]]
    assert "+49 30 1234567" in ack.get_content()


def test_set_phone_confirms_and_the_held_reply_can_be_sent(agent_desk: Desk) -> None:
    steps = Counter(agent_desk)
    steps.customer(f"Kim Kunde <{KIM}>", with_signature("Kim Kunde", "030 1234567"))
    steps.call("0301234567")
    notification = notification_for(agent_desk, 10002)
    steps.agent(notification, "Hallo Kim, wir rufen gleich zurück.")
    assert not any("gleich zurück" in text_of(m) for m in mail_to(agent_desk, KIM))

    done = agent_desk.run("contacts", "set-phone", KIM, "030 1234567").stdout.decode()
    assert "ticket 10002: caller confirmed" in done
    assert show(agent_desk, 10002)["customer"] == KIM and show(agent_desk, 10002)["probable_callers"] == []
    assert phone(agent_desk, KIM)["learned"] is False
    assert "by contacts set-phone" in agent_desk.run("triage", "explain", "10002").stdout.decode()
    steps.agent(notification, "Hallo Kim, wir rufen gleich zurück.")
    assert any("gleich zurück" in text_of(m) for m in mail_to(agent_desk, KIM))


def test_merging_the_callback_into_the_contacts_ticket_confirms_them(agent_desk: Desk) -> None:
    steps = Counter(agent_desk)
    steps.customer(f"Kim Kunde <{KIM}>", with_signature("Kim Kunde", "030 1234567"))
    steps.call("0301234567")
    steps.agent(notification_for(agent_desk, 10002), "#merge 10001")
    kims = show(agent_desk, 10001)
    assert "voicemail" in [m["kind"] for m in kims["messages"]]
    assert [m["voicemail"]["known_caller"] for m in kims["messages"] if m["voicemail"]] == [True]
    assert phone(agent_desk, KIM)["learned"] is False and show(agent_desk, 10002)["probable_callers"] == []

    # The other way round: Dave's ticket merged into the callback ticket confirms Dave on it.
    steps.customer("Dave Dev <dave@coder.example>", with_signature("Dave Dev", "040 9876543"))  # 10003
    steps.call("0409876543", msgnum=1)  # 10004, naming Dave
    assert show(agent_desk, 10004)["customer"] == PBX
    steps.agent(notification_for(agent_desk, 10003), "#merge 10004")
    callback = show(agent_desk, 10004)
    assert callback["customer"] == "dave@coder.example" and callback["probable_callers"] == []
    assert phone(agent_desk, "dave@coder.example")["source"] == f"confirmed by agent {ANNA} on {TODAY}"


def test_a_number_two_contacts_wrote_names_both(agent_desk: Desk) -> None:
    steps = Counter(agent_desk)
    steps.customer("Carla Coder <carla@coder.example>", with_signature("Carla Coder", "(030) 555 66 77"))
    steps.customer("Dave Dev <dave@coder.example>", with_signature("Dave Dev", "030 5556677"))
    steps.call("0305556677")
    callback = show(agent_desk, 10003)
    assert [p["email"] for p in callback["probable_callers"]] == ["carla@coder.example", "dave@coder.example"]
    notification = notification_for(agent_desk, 10003)
    body = text_of(notification)
    assert "Carla Coder <carla@coder.example>" in body and "Dave Dev <dave@coder.example>" in body
    assert "keinem von ihnen" in body and "#confirm-caller <Adresse>" in body

    # Which of them? The desk will not pick one.
    steps.agent(notification, "#confirm-caller\n\nHallo!")
    [error] = [m for m in mail_to(agent_desk, ANNA) if "Befehlsfehler" in m["Subject"]]
    assert (
        "das Ticket nennt 2 vermutliche Anrufer (carla@coder.example, dave@coder.example)"
        in error.get_content()
    )
    steps.agent(notification, "#confirm-caller nobody@nowhere.example")
    assert any("kein Kontakt nobody@nowhere.example" in text_of(m) for m in mail_to(agent_desk, ANNA))
    assert show(agent_desk, 10003)["customer"] == PBX

    steps.agent(notification, "#confirm-caller dave@coder.example\n\nHallo Dave, erledigt.")
    assert show(agent_desk, 10003)["customer"] == "dave@coder.example"
    assert any("erledigt" in text_of(m) for m in mail_to(agent_desk, "dave@coder.example"))
    assert not any("erledigt" in text_of(m) for m in mail_to(agent_desk, "carla@coder.example"))
    assert phone(agent_desk, "carla@coder.example")["learned"] is True


def test_the_new_wording_exists_in_both_languages() -> None:
    from postdesk.templates.render import MailTemplates

    caller = {
        "email": KIM,
        "name": "Kim Kunde",
        "number": "+49301234567",
        "display": "+49 30 1234567",
        "learned_from": "signature of message 3",
        "learned_on": "2026-12-07",
    }
    for language, words in (("de", "nicht bestätigt"), ("en", "not confirmed")):
        rendered = MailTemplates().render(
            "agent_caller_unconfirmed",
            language,
            desk_name="Support",
            agent_name="Anna",
            number="10003",
            tag="Ticket#10003",
            subject="Voicemail from +49 30 1234567",
            callers=[caller],
        )
        assert words in rendered.subject and "Kim Kunde <kim@customer.example>" in rendered.body
        assert "2026-12-07" in rendered.body and "#confirm-caller" in rendered.body
