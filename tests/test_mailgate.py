"""`postdesk mailgate` as a mail server runs it: a process, stdin, an exit code."""

from __future__ import annotations

from conftest import Desk, make_mail


def test_stored_message_exits_0_and_becomes_a_ticket(make_desk) -> None:
    desk: Desk = make_desk()
    desk.run("db", "upgrade")
    result = desk.run(
        "mailgate",
        "--sender",
        "kim@customer.example",
        "--recipient",
        "support@example.com",
        input=make_mail().as_bytes(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    desk.run("process", "--once")
    [row] = desk.json("tickets", "list")
    assert row["customer"] == "kim@customer.example"
    desk.run("send", "--once")
    assert len(desk.outbox_files()) == 1


def test_oversize_exits_65_with_the_reason(make_desk) -> None:
    desk: Desk = make_desk({"ingest": {"smtp": {"max_message_bytes": 5000}}})
    desk.run("db", "upgrade")
    result = desk.run("mailgate", input=make_mail(body="x" * 10_000).as_bytes(), check=False)
    assert result.returncode == 65
    assert b"message too large" in result.stderr and b"5000" in result.stderr


def test_unavailable_store_exits_75(make_desk) -> None:
    desk: Desk = make_desk({"store": {"url": "sqlite:////proc/postdesk-nowhere/postdesk.db"}})
    result = desk.run("mailgate", input=make_mail().as_bytes(), check=False)
    assert result.returncode == 75
    assert b"try again later" in result.stderr


def test_unmigrated_store_exits_75_and_says_what_to_do(make_desk) -> None:
    desk: Desk = make_desk()
    result = desk.run("mailgate", input=make_mail().as_bytes(), check=False)
    assert result.returncode == 75
    assert b"postdesk db upgrade" in result.stderr


def test_config_mistake_exits_75_not_a_bounce(make_desk) -> None:
    desk: Desk = make_desk()
    desk.config.write_text("[ingest.smtp]\nport = 'many'\n")
    result = desk.run("mailgate", input=make_mail().as_bytes(), check=False)
    assert result.returncode == 75
    assert b"[ingest.smtp] port" in result.stderr


def test_bad_config_value_names_file_key_and_expectation(make_desk) -> None:
    desk: Desk = make_desk()
    desk.config.write_text("[desk]\nlanguage = 'fr'\n")
    result = desk.run("tickets", "list", check=False)
    assert result.returncode == 1
    line = result.stderr.decode().strip()
    assert str(desk.config) in line and "[desk] language" in line and "'de' or 'en'" in line
