"""Machine mail end to end over SMTP against a real `postdesk serve`:
auto-replies attach without reopening or answer, abuse reports stay out of
customer queues, and two auto-responders stop after one automatic mail."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from sqlalchemy import func, select, update

from conftest import Desk, free_port, make_mail
from corpus import corpus_file
from machine_mail_support import AutoResponder, reply_to, start_responder
from postdesk.store.models import Inbound, Message, Outbox, Ticket
from test_desk_e2e import wait_for_outbox, wait_processed

CUSTOMER = "kim@customer.example"


def ticket_state(desk: Desk, ticket_id: int) -> tuple[str, list[str]]:
    with desk.store.transaction() as session:
        status = session.execute(select(Ticket.status).where(Ticket.id == ticket_id)).scalar_one()
        kinds = (
            session.execute(
                select(Message.kind)
                .where(Message.ticket_id == ticket_id, Message.direction == "in")
                .order_by(Message.id)
            )
            .scalars()
            .all()
        )
    return status, list(kinds)


def outbox_rows(desk: Desk) -> int:
    """Outbox mail the desk sends: mail held over a limit is not sent until released."""
    with desk.store.transaction() as session:
        return session.execute(
            select(func.count()).select_from(Outbox).where(Outbox.status != "held")
        ).scalar_one()


def auto_replies(ack: EmailMessage) -> list[tuple[str, EmailMessage]]:
    """Out-of-office answers to the acknowledgement as real responders write them: (envelope sender, mail)."""
    tag_subject = str(ack["Subject"])
    rfc3834 = reply_to(
        ack,
        CUSTOMER,
        f"Auto: {tag_subject}",
        "Ich bin bis 30.11. nicht im Büro.",
        Auto_Submitted="auto-replied",
        In_Reply_To=ack["Message-ID"],
        References=ack["Message-ID"],
    )
    x_autoreply = reply_to(
        ack,
        CUSTOMER,
        f"Re: {tag_subject}",
        "I am away until Monday.",
        X_Autoreply="yes",
        In_Reply_To=ack["Message-ID"],
    )
    x_autorespond = reply_to(
        ack,
        CUSTOMER,
        f"Re: {tag_subject}",
        "Danke, ich melde mich.",
        X_Autorespond="yes",
        In_Reply_To=ack["Message-ID"],
    )
    # Exchange: no In-Reply-To, threads by the subject tag (the sender belongs to the ticket).
    exchange = reply_to(
        ack,
        CUSTOMER,
        f"Automatic reply: {tag_subject}",
        "I am out of the office.",
        X_Auto_Response_Suppress="All",
    )
    return [("", rfc3834), (CUSTOMER, x_autoreply), (CUSTOMER, x_autorespond), ("", exchange)]


def test_auto_replies_attach_do_not_reopen_and_get_no_answer(desk: Desk) -> None:
    desk.send(make_mail(body="Mein Login klappt nicht.\n"))
    [ack] = wait_for_outbox(desk, 1)
    [row] = desk.json("tickets", "list")
    ticket_id = row["id"]

    first, *closed_phase = auto_replies(ack)
    desk.send(first[1], sender=first[0])
    wait_processed(desk, 2)
    assert ticket_state(desk, ticket_id) == ("open", ["customer", "auto_reply"])

    with desk.store.transaction() as session:
        session.execute(update(Ticket).where(Ticket.id == ticket_id).values(status="closed"))
    for sender, message in closed_phase:
        desk.send(message, sender=sender)
    wait_processed(desk, 5)
    status, kinds = ticket_state(desk, ticket_id)
    assert status == "closed", "an auto-reply must not reopen a closed ticket"
    assert kinds == ["customer"] + ["auto_reply"] * 4
    assert outbox_rows(desk) == 1 and len(desk.outbox_files()) == 1, "auto-replies get no answer"
    assert len(desk.json("tickets", "list", "--status", "closed")) == 1

    # The contrast: a person's reply does reopen it.
    person = reply_to(
        ack, CUSTOMER, f"Re: {ack['Subject']}", "Geht immer noch nicht.", In_Reply_To=ack["Message-ID"]
    )
    desk.send(person)
    wait_processed(desk, 6)
    assert ticket_state(desk, ticket_id)[0] == "open"
    assert outbox_rows(desk) == 1  # follow-ups are not acknowledged either


def test_abuse_reports_stay_out_of_customer_queues(desk: Desk) -> None:
    arf = corpus_file("sisimai-set-of-emails/maildir/bsd/arf-01.eml").read_bytes()
    desk.send(make_mail(body="Mein Login klappt nicht.\n"))
    [ack] = wait_for_outbox(desk, 1)
    # A complaint about our own acknowledgement, whose headers point at it.
    threaded = arf.replace(
        b"Message-ID:", f"In-Reply-To: {ack['Message-ID']}\nMessage-ID:".encode(), 1
    ).replace(b"000000000000000.000000000000@", b"111111111111111.000000000000@", 1)
    desk.send(arf, sender="abuse@example.ed.jp")
    desk.send(threaded, sender="abuse@example.ed.jp")
    wait_processed(desk, 3)
    rows = {row["number"]: row for row in desk.json("tickets", "list")}
    assert len(rows) == 3
    assert rows["10001"]["queue"] == "support"
    assert {rows["10002"]["queue"], rows["10003"]["queue"]} == {"abuse"}
    assert ticket_state(desk, 10001) == ("open", ["customer"])
    assert ticket_state(desk, 10002)[1] == ["abuse_report"] == ticket_state(desk, 10003)[1]
    assert outbox_rows(desk) == 1
    explained = desk.run("triage", "explain", "10003").stdout.decode()
    assert "kept out of the customer queues" in explained and "not filed on ticket 10001" in explained


# --- ping-pong ------------------------------------------------------------------------------

PEER = "robot@peer.example"


def rfc3834_responder(message: EmailMessage) -> tuple[str, str, EmailMessage]:
    """A vacation responder done right: Auto-Submitted, In-Reply-To, null envelope sender."""
    answer = reply_to(
        message,
        PEER,
        f"Auto: {message['Subject']}",
        "Away.",
        Auto_Submitted="auto-replied",
        In_Reply_To=message["Message-ID"],
    )
    return "", str(message.get("Reply-To") or message["From"]), answer


def naive_responder(message: EmailMessage) -> tuple[str, str, EmailMessage]:
    """No automatic-mail headers at all; answers the Reply-To like a mail client, threaded."""
    answer = reply_to(
        message, PEER, f"Re: {message['Subject']}", "Thanks!", In_Reply_To=message["Message-ID"]
    )
    return PEER, str(message.get("Reply-To") or message["From"]), answer


def helpdesk_responder(message: EmailMessage) -> tuple[str, str, EmailMessage]:
    """Another ticket system's acknowledgement: new Message-ID, no In-Reply-To,
    its own tag before our subject."""
    desk = str(message["From"].addresses[0].addr_spec)
    answer = reply_to(
        message, PEER, f"[Case#555] {message['Subject']}", "We have received your request.", to=desk
    )
    return PEER, desk, answer


def blind_responder(message: EmailMessage) -> tuple[str, str, EmailMessage]:
    """The worst case: a fresh mail with nothing that marks it automatic or relates it to ours."""
    answer = reply_to(
        message, PEER, "Thank you for your message", "We will get back to you.", to="support@example.com"
    )
    return PEER, "support@example.com", answer


@pytest.fixture
def peer_port() -> Iterator[int]:
    yield free_port()


@pytest.mark.parametrize(
    ("answer", "settings"),
    [
        (rfc3834_responder, {}),
        (naive_responder, {}),
        (helpdesk_responder, {}),
        # Nothing in the mail tells it from a person writing anew: the per-sender limit stops it.
        (blind_responder, {"replies": {"max_acks_per_sender_per_hour": 1}}),
    ],
    ids=["rfc3834", "naive-threaded", "other-helpdesk", "blind-with-limit-1"],
)
def test_two_auto_responders_stop_after_one_automatic_mail(
    make_desk: Callable[..., Desk], peer_port: int, answer: Callable, settings: dict
) -> None:
    desk = make_desk({"outbound": {"transport": f"smtp://127.0.0.1:{peer_port}"}, **settings})
    controller, peer = start_responder(peer_port, desk.port, answer)
    try:
        desk.start()
        # The peer writes first, like any mail robot that lands in a support inbox.
        first = make_mail(
            sender=f"Robot <{PEER}>", subject="Order status update", body="Your order shipped.\n"
        )
        desk.send(first, sender=PEER)
        desk.wait_until(lambda: peer.answered >= 1, what="the peer's automatic answer to the acknowledgement")
        settled = _settled(desk, peer)
        desk.wait_until(settled, what="no mail in flight")
        peer.join()
        assert peer.errors == []
        assert len(peer.received) == 1, [m["Subject"] for m in peer.received]
        assert peer.received[0]["Auto-Submitted"] == "auto-replied"
        with desk.store.transaction() as session:
            inbound = session.execute(select(func.count()).select_from(Inbound)).scalar_one()
            kinds = session.execute(select(Message.kind).where(Message.direction == "in")).scalars().all()
        assert inbound == 2 and len(kinds) == 2
    finally:
        controller.stop()
        peer.join()


def _settled(desk: Desk, peer: AutoResponder) -> Callable[[], bool]:
    """True once every mail the peer sent is processed and nothing is waiting to go out.

    Then the state is final: a stage queues outgoing mail in the same
    transaction that marks the inbound mail done, and the peer only writes
    when it receives something.
    """

    def check() -> bool:
        with desk.store.transaction() as session:
            inbound = session.execute(
                select(func.count()).select_from(Inbound).where(Inbound.status == "done")
            ).scalar_one()
            unsent = session.execute(
                select(func.count()).select_from(Outbox).where(Outbox.status.in_(("pending", "sending")))
            ).scalar_one()
        return inbound == 1 + peer.answered and unsent == 0 and len(peer.received) == outbox_rows(desk)

    return check
