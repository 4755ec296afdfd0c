"""Templates for every mail, `postdesk templates list|render`, and headers that cannot be injected."""

from __future__ import annotations

from sqlalchemy import select

from agents_support import ANNA, KIM, processed, reply_to, sent_mail, start_agent_desk, wait_mail_to
from postdesk.store.models import Outbox

INJECTING = (
    b"From: =?utf-8?q?Kim=0D=0ABcc=3A_victim=40evil=2Eexample?= <kim@customer.example>\r\n"
    b"To: support@example.com\r\n"
    b"Subject: =?utf-8?q?Hilfe=0D=0ABcc=3A_victim=40evil=2Eexample=0D=0A=0D=0Aforged_body?=\r\n"
    b"Message-ID: <inject-1@customer.example>\r\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Bitte helfen.\r\n"
)


def test_a_subject_or_name_with_line_breaks_injects_no_header(make_desk) -> None:
    desk = start_agent_desk(make_desk())
    desk.send(INJECTING, sender=KIM)
    [notification] = wait_mail_to(desk, ANNA)
    desk.send(reply_to(notification, "Hallo, erledigt."), sender=ANNA, recipients=(notification["Reply-To"],))
    wait_mail_to(desk, KIM, 2)
    processed(desk, 2)
    written = sent_mail(desk)
    assert len(written) == 3  # acknowledgement, notification, the agent's answer
    for mail in written:
        assert mail["Bcc"] is None
        assert all(not line.lower().startswith(b"bcc:") for line in mail.as_bytes().splitlines())
        assert "Hilfe Bcc: victim@evil.example forged body" in mail["Subject"]
        assert "\n" not in mail["Subject"] and "\r" not in mail["Subject"]
    with desk.store.read() as session:
        recipients = {r for row in session.execute(select(Outbox)).scalars() for r in row.recipients}
    assert recipients == {KIM, ANNA}


def test_templates_list_and_render(make_desk, tmp_path) -> None:
    override = tmp_path / "mytemplates" / "en"
    override.mkdir(parents=True)
    (override / "agent_reply.txt").write_text(
        "{% block subject %}Answer {{ tag }}{% endblock %}{% block body %}{{ text }}\n-- ops{% endblock %}"
    )
    desk = start_agent_desk(make_desk({"templates": {"path": str(tmp_path / "mytemplates")}}))
    desk.send(INJECTING.replace(b"inject-1", b"plain-1"), sender=KIM)
    wait_mail_to(desk, ANNA)
    listed = desk.json("templates", "list")
    by_name = {row["name"]: row for row in listed}
    for name in (
        "acknowledgement",
        "agent_notification",
        "agent_reply",
        "agent_command_error",
        "agent_howto",
        "bounce_notice",
    ):
        assert by_name[name]["languages"] == ["de", "en"]
    assert by_name["agent_reply"]["sources"]["en"].endswith("mytemplates/en/agent_reply.txt")
    assert by_name["agent_reply"]["sources"]["de"] == "built-in"
    shown = desk.run("templates", "render", "agent_notification", "--ticket", "10001").stdout.decode()
    assert shown.startswith("Subject: [Ticket#10001] Neues Ticket") and "Bitte helfen." in shown
    assert "support+10001-a" in shown
    english = desk.run(
        "templates", "render", "bounce_notice", "--ticket", "10001", "--lang", "en"
    ).stdout.decode()
    assert english.startswith("Subject: [Ticket#10001] Undeliverable")
    overridden = desk.run(
        "templates", "render", "agent_reply", "--ticket", "10001", "--lang", "en"
    ).stdout.decode()
    assert overridden.startswith("Subject: Answer Ticket#10001") and "-- ops" in overridden
    ack = desk.run("templates", "render", "acknowledgement", "--ticket", "10001").stdout.decode()
    assert "10001" in ack
    for language, reason in (("de", "#priority braucht low, normal"), ("en", "#priority needs low, normal")):
        error = desk.run(
            "templates", "render", "agent_command_error", "--ticket", "10001", "--lang", language
        ).stdout.decode()
        assert "#priority sky-high" in error and reason in error
    missing = desk.run("templates", "render", "nothing", "--ticket", "10001", check=False)
    assert missing.returncode == 1 and b"no template 'nothing'" in missing.stderr
    no_ticket = desk.run("templates", "render", "agent_reply", "--ticket", "42", check=False)
    assert no_ticket.returncode == 1 and b"no ticket 42" in no_ticket.stderr
