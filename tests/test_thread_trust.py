"""Threading never crosses customers (issue 17.1), end to end over loopback SMTP
against a real `postdesk serve`: a Message-ID threads a mail onto a ticket only
where it is trusted for the sender, and only when that ticket is the only one."""

from __future__ import annotations

from sqlalchemy import select

from agents_support import ANNA, KIM, mail_to, processed, reply_to, start_agent_desk, wait_mail_to
from conftest import Desk, make_mail
from postdesk.store.models import Message

MALLORY = "mallory@evil.example"
KIM_ID = "<kim-1@customer.example>"
SECRET = "Mein Kundenpasswort ist Sonnenblume-4711"
ANSWER = "Ihr neues Passwort lautet Tulpe-0815"


def with_id(message, message_id: str, **headers: str):
    del message["Message-ID"]
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    return message


def placed(desk: Desk, text: str) -> list[tuple[int, str]]:
    """(ticket, threaded_by) of every received message whose text contains TEXT."""
    with desk.store.read() as session:
        rows = session.execute(
            select(Message.ticket_id, Message.threaded_by, Message.text).where(Message.direction == "in")
        ).all()
    return [(ticket_id, how) for ticket_id, how, body in rows if text in body]


def test_a_reused_message_id_does_not_hijack_kims_follow_up(make_desk) -> None:
    desk = start_agent_desk(make_desk())
    kim = with_id(make_mail(subject="Konto gesperrt", body="Mein Konto ist gesperrt.\nKim\n"), KIM_ID)
    desk.send(kim)
    wait_mail_to(desk, ANNA)
    # Mallory's different mail under Kim's Message-ID: a ticket of her own (correct so far).
    mallory = with_id(
        make_mail(sender=f"Mallory <{MALLORY}>", subject="Konto", body="Bitte melden Sie sich.\n"), KIM_ID
    )
    desk.send(mallory, sender=MALLORY)
    processed(desk, 2)
    [(kims_ticket, _)] = placed(desk, "Mein Konto ist gesperrt.")
    [(mallorys_ticket, _)] = placed(desk, "Bitte melden Sie sich.")
    assert kims_ticket != mallorys_ticket

    # Kim follows up on her own mail, to the plain desk address, with her password in it.
    follow_up = make_mail(subject="Re: Konto gesperrt", body=f"Nachtrag: {SECRET}\nKim\n", In_Reply_To=KIM_ID)
    desk.send(follow_up)
    [notification] = desk.wait_until(
        lambda: [m for m in mail_to(desk, ANNA) if SECRET in m.get_content()], what="Kim's follow-up notified"
    )
    assert placed(desk, SECRET) == [(kims_ticket, "in_reply_to")]

    # The agent answers the notification: the answer goes to Kim, never to Mallory.
    desk.send(
        reply_to(notification, f"Hallo Kim,\n\n{ANSWER}.\n"),
        sender=ANNA,
        recipients=(notification["Reply-To"],),
    )
    desk.wait_until(
        lambda: [m for m in mail_to(desk, KIM) if ANSWER in m.as_string()], what="the answer to Kim"
    )

    # Mallory's own follow-up under that id stays on her ticket.
    desk.send(
        make_mail(sender=MALLORY, subject="Re: Konto", body="Und nun?\n", In_Reply_To=KIM_ID), sender=MALLORY
    )
    processed(desk, 5)
    assert placed(desk, "Und nun?") == [(mallorys_ticket, "in_reply_to")]
    to_mallory = mail_to(desk, MALLORY)
    assert to_mallory  # her acknowledgement
    for mail in to_mallory:
        raw = mail.as_string()
        assert "Sonnenblume" not in raw and "Tulpe" not in raw and "Nachtrag" not in raw


def test_a_strangers_reply_to_a_customers_message_id_opens_a_ticket_of_its_own(desk: Desk) -> None:
    kim = with_id(
        make_mail(subject="Drucker", body="Der Drucker druckt nicht.\n"),
        KIM_ID,
        Cc="kollege@customer.example",
    )
    desk.send(kim)
    # Someone Kim's mail was forwarded to: the id alone gives him nothing, neither
    # as In-Reply-To nor at the end of a References chain.
    desk.send(
        make_mail(sender="eve@other.example", subject="Re: Drucker", body="Ich auch.\n", In_Reply_To=KIM_ID),
        sender="eve@other.example",
    )
    desk.send(
        make_mail(
            sender="olaf@other.example",
            subject="Re: Drucker",
            body="Wir ebenso.\n",
            References=f"<unknown-0@other.example> {KIM_ID}",
        ),
        sender="olaf@other.example",
    )
    # The colleague on Cc belongs to the ticket: his reply threads.
    desk.send(
        make_mail(
            sender="kollege@customer.example",
            subject="Re: Drucker",
            body="Bei mir auch.\n",
            In_Reply_To=KIM_ID,
        ),
        sender="kollege@customer.example",
    )
    processed(desk, 4)
    [(kims_ticket, how_kim)] = placed(desk, "Der Drucker druckt nicht.")
    [(eves_ticket, how_eve)] = placed(desk, "Ich auch.")
    [(olafs_ticket, how_olaf)] = placed(desk, "Wir ebenso.")
    assert (how_kim, how_eve, how_olaf) == ("new", "new", "new")
    assert len({kims_ticket, eves_ticket, olafs_ticket}) == 3
    assert placed(desk, "Bei mir auch.") == [(kims_ticket, "in_reply_to")]


def test_trusted_ticket_is_the_only_ticket_trusted_for_the_sender() -> None:
    # Imported here: the end-to-end tests above must also run (and fail) against the old code.
    from postdesk.threads.lookup import Sighting, trusted_ticket

    def sighting(ticket_id: int, sent_by_desk: bool = False, sender: str = KIM) -> Sighting:
        return Sighting("m@x", ticket_id, sent_by_desk, sender)

    kim, mallory = sighting(1), sighting(2, sender=MALLORY)
    assert trusted_ticket([kim, mallory], KIM, set()) == 1
    assert trusted_ticket([kim, mallory], MALLORY, set()) == 2
    assert trusted_ticket([kim, mallory], "eve@other.example", set()) is None
    assert trusted_ticket([kim, mallory], "kollege@customer.example", {1}) == 1
    # Shared and trusted on both: never used on its own, whatever order the rows come in.
    assert trusted_ticket([kim, sighting(3)], KIM, set()) is None
    assert trusted_ticket([kim, mallory], "kollege@customer.example", {1, 2}) is None
    # The desk's own mail: whoever replies to it got it from the desk.
    assert trusted_ticket([sighting(4, sent_by_desk=True, sender="support@example.com")], "", set()) == 4
    assert trusted_ticket([sighting(5)], "", {5}) is None  # no sender: only the desk's ids count
