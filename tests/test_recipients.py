"""The listeners take mail only for the desk's own addresses (issue 16.1).

A public listener that says 250 to any recipient turns the desk into a
sink for mail meant for others (and, with acknowledgements, a source of
backscatter). Tried over loopback against a real `postdesk serve`."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest

from conftest import Desk, free_port, make_mail, toml_dump
from listener_support import Dialogue, stored
from postfix_support import Postfix, lmtp_mode, make_postfix, needs_postfix

__all__ = ["make_postfix"]  # a fixture, imported for pytest

DESK = {
    "desk": {"aliases": ["help@example.com", "@support.example.net"]},
    "triage": {"default_queue": "support", "management_queue": "management"},
}
QUEUES = """
[[queues]]
name = "support"
addresses = ["support@example.com"]

[[queues]]
name = "billing"
addresses = ["billing@example.com"]

[[queues]]
name = "management"
addresses = ["management@example.com"]
rules_reroute = false
"""


def our_desk(make_desk, settings: dict | None = None, *, aliases: bool = True) -> Desk:
    """A desk with three queues (one the management queue) and, with ALIASES, two aliases."""
    desk: Desk = make_desk({**(DESK if aliases else {"triage": DESK["triage"]}), **(settings or {})})
    # The shared TOML helper knows no arrays of tables.
    desk.write_config = lambda: desk.config.write_text(toml_dump(desk.settings) + QUEUES)  # type: ignore[method-assign]
    desk.write_config()
    return desk


OURS = [
    "support@example.com",
    "Support@Example.COM",
    "billing@example.com",
    "management@example.com",
    "support+10001-cabcdefghijklmnop@example.com",
    "billing+anything@example.com",
    "help@example.com",
    "anyone@support.example.net",
]
FOREIGN = ["victim@other.example", "anything@example.com", "root@localhost", "help@example.com.evil.example"]


def test_is_ours_decides_on_plain_values() -> None:
    from postdesk.core.recipients import foreign, is_ours, own_recipients

    own = own_recipients(["support@example.com"], ["help@example.com", "@support.example.net"])
    assert all(is_ours(address, own) for address in ["<support@example.com>", "x@SUPPORT.example.net"])
    assert not any(
        is_ours(address, own)
        for address in ["", "support", "@example.com", "x@sub.support.example.net", "support+x@other.example"]
    )
    assert foreign(["support@example.com", "b@c.example"], own) == ["b@c.example"]


def test_foreign_recipient_is_refused_with_550_and_nothing_is_stored(make_desk) -> None:
    desk = our_desk(make_desk, aliases=False)
    desk.start()
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        desk.send(make_mail(to="victim@other.example"), recipients=tuple(FOREIGN))
    assert {address: reply[0] for address, reply in refused.value.recipients.items()} == dict.fromkeys(
        FOREIGN, 550
    )
    assert all(b"5.1.1 mailbox unknown" in reply[1] for reply in refused.value.recipients.values())
    assert stored(desk) == []


def test_desk_queue_management_token_alias_and_catch_all_are_accepted(make_desk) -> None:
    desk = our_desk(make_desk)
    desk.start()
    mixed = (*OURS, "victim@other.example")
    refused = desk.send(make_mail(), recipients=mixed)
    assert set(refused) == {"victim@other.example"} and refused["victim@other.example"][0] == 550
    [(recipients, _raw)] = stored(desk)
    assert recipients == OURS  # the refused recipient is not part of the envelope


def test_lmtp_answers_each_recipient_and_data_once_per_accepted_one(make_desk) -> None:
    lmtp_port = free_port()
    lmtp = {"ingest": {"lmtp": {"enabled": True, "host": "127.0.0.1", "port": lmtp_port}}}
    desk = our_desk(make_desk, lmtp, aliases=False)
    desk.start()
    desk.wait_until(lambda: "LMTP listener" in desk.log.read_text(), what="the LMTP listener")
    talk = Dialogue(lmtp_port)
    try:
        assert talk.reply().startswith("220")
        assert talk.say("LHLO mx.example.com").startswith("250")
        assert talk.say("MAIL FROM:<kim@customer.example>").startswith("250")
        answers = [
            talk.say(f"RCPT TO:<{address}>")
            for address in ("support@example.com", "victim@other.example", "billing+x@example.com")
        ]
        assert [answer[:3] for answer in answers] == ["250", "550", "250"]
        assert "5.1.1 mailbox unknown" in answers[1]
        assert talk.say("DATA").startswith("354")
        talk.send_data(make_mail().as_bytes().replace(b"\n", b"\r\n"))
        per_recipient = [talk.reply(), talk.reply()]
        assert all(answer.startswith("250") for answer in per_recipient), per_recipient
        assert talk.say("QUIT").startswith("221")
    finally:
        talk.close()
    [(recipients, _raw)] = stored(desk)
    assert recipients == ["support@example.com", "billing+x@example.com"]


def test_mailgate_stores_mail_for_a_foreign_recipient_and_tickets_show_says_so(make_desk) -> None:
    desk = our_desk(make_desk, aliases=False)
    desk.run("db", "upgrade")
    result = desk.run(
        "mailgate",
        "--sender",
        "kim@customer.example",
        "--recipient",
        "support@example.com",
        "--recipient",
        "victim@other.example",
        input=make_mail().as_bytes(),
        check=False,
    )
    # The mail server routed it here: stored (exit 0), never a bounce.
    assert result.returncode == 0, result.stderr
    assert b"victim@other.example" in result.stderr
    desk.run("process", "--once")
    [row] = desk.json("tickets", "list")
    detail = desk.json("tickets", "show", str(row["number"]))
    assert detail["foreign_recipients"] == ["victim@other.example"]
    assert detail["messages"][0]["foreign_recipients"] == ["victim@other.example"]
    text = desk.run("tickets", "show", str(row["number"])).stdout.decode()
    assert "not the desk's: victim@other.example" in text


def test_mailgate_for_the_desks_own_recipient_shows_no_mark(make_desk) -> None:
    desk = our_desk(make_desk)
    desk.run("db", "upgrade")
    desk.run("mailgate", "--recipient", "anyone@support.example.net", input=make_mail().as_bytes())
    desk.run("process", "--once")
    [row] = desk.json("tickets", "list")
    assert desk.json("tickets", "show", str(row["number"]))["foreign_recipients"] == []
    assert "not the desk's" not in desk.run("tickets", "show", str(row["number"])).stdout.decode()


@pytest.mark.parametrize("alias", ["not an address", "@", "@nodot", "a@b@c.example"])
def test_an_alias_that_is_no_address_is_one_line_naming_file_and_key(make_desk, alias: str) -> None:
    desk: Desk = make_desk()
    desk.config.write_text(f"[desk]\naliases = [{alias!r}]\n")
    result = desk.run("tickets", "list", check=False)
    assert result.returncode == 1
    [line] = result.stderr.decode().strip().splitlines()
    assert str(desk.config) in line and "[desk] aliases" in line and alias in line


@needs_postfix
def test_postfix_bounces_what_postdesk_refuses_over_lmtp_and_its_maps_refuse_first(
    make_desk, make_postfix: Callable[[], Postfix]
) -> None:
    """docs/postfix.md, "Recipients": without relay_recipient_maps Postfix takes any address of
    the domain and bounces postdesk's 550 (backscatter); with them it refuses in its own dialogue."""
    lmtp_port = free_port()
    desk = our_desk(
        make_desk, {"ingest": {"lmtp": {"enabled": True, "host": "127.0.0.1", "port": lmtp_port}}}
    )
    desk.start()
    postfix = make_postfix()
    postfix.configure(lmtp_mode(lmtp_port))
    postfix.start()
    postfix.swaks(
        make_mail(subject="an einen Fremden").as_bytes(), "kim@customer.example", "stranger@example.com"
    )
    postfix.wait_until(
        lambda: (
            "5.1.1 mailbox unknown" in postfix.log_tail(20_000)
            and "status=bounced" in postfix.log_tail(20_000)
        ),
        what="Postfix bouncing postdesk's 550",
    )
    assert stored(desk) == []

    postfix.stop()
    maps = (
        "relay_recipient_maps = inline:{ support@example.com=ok, billing@example.com=ok, "
        "@support.example.net=ok }"
    )
    postfix.configure(([maps, "recipient_delimiter = +"], []))
    postfix.start()
    with pytest.raises(AssertionError) as refused:
        postfix.swaks(make_mail().as_bytes(), "kim@customer.example", "stranger@example.com")
    assert "User unknown in relay recipient table" in str(refused.value)
    token = "support+10001-cabcdefghijklmnop@example.com"
    postfix.swaks(make_mail(subject="per Token").as_bytes(), "kim@customer.example", token)
    desk.wait_until(lambda: stored(desk), what="the mail to a reply address stored")
    assert [recipients for recipients, _raw in stored(desk)] == [[token]]
