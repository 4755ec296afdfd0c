"""Dedupe end to end over loopback SMTP against a real `postdesk serve`: repeats merge, a
different concern opens a ticket, an outage clusters and is answered at once, unmerge splits."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from conftest import Desk, make_mail
from test_desk_e2e import read_mail, wait_for_outbox, wait_processed

KIM = "Kim Kunde <kim@customer.example>"
REQUEST = (
    "Hallo,\n\nich habe mein Passwort für das Kundenkonto vergessen und komme nicht mehr rein.\n"
    "Der Link zum Zurücksetzen kommt nicht an.\n\nViele Grüße\nKim Kunde\n"
)


def mails_to(desk: Desk, address: str) -> list[EmailMessage]:
    found = [read_mail(path) for path in desk.outbox_files()]
    return [m for m in found if m["To"].addresses[0].addr_spec == address]


def test_the_same_request_three_times_is_one_ticket_with_one_notice(desk: Desk) -> None:
    first = make_mail(sender=KIM, subject="Passwort vergessen", body=REQUEST)
    again = make_mail(
        sender=KIM,
        subject="DRINGEND: Passwort vergessen",
        body="Hallo,\n\nich warte immer noch auf eine Antwort!\n\n" + REQUEST.split("\n\n", 1)[1],
    )
    third = make_mail(
        sender=KIM,
        subject="Passwort vergessen",
        body="Guten Tag,\nich komme nicht mehr in mein Kundenkonto, Passwort vergessen. Der Link zum "
        "Zurücksetzen kommt nicht an.\nGruß Kim\n",
    )
    for mail in (first, again, third):
        desk.send(mail)
        wait_processed(desk, [first, again, third].index(mail) + 1)
    wait_for_outbox(desk, 2)

    [row] = desk.json("tickets", "list")
    detail = desk.json("tickets", "show", row["number"])
    incoming = [m for m in detail["messages"] if m["direction"] == "in"]
    assert len(incoming) == 3
    assert [m["duplicate"] for m in incoming] == [False, True, True]
    assert detail["merged_count"] == 2
    kinds = sorted(m["kind"] for m in detail["messages"] if m["direction"] == "out")
    assert kinds == ["acknowledgement", "duplicate_notice"]

    sent = mails_to(desk, "kim@customer.example")
    assert len(sent) == 2
    notice = next(m for m in sent if "bereits vor" in str(m["Subject"]))
    assert str(notice["Subject"]).startswith(f"[Ticket#{row['number']}]")
    assert notice["In-Reply-To"] == again["Message-ID"]
    assert row["number"] in notice.get_content()

    assert desk.json("stats")["duplicates_merged"] == 2

    explained = desk.run("dedupe", "explain", str(incoming[1]["id"])).stdout.decode()
    assert "merge" in explained and "same-sender-repeat" in explained and row["number"] in explained
    # The third mail had two earlier mails on one ticket: each candidate line says which it is.
    [third_decision] = desk.json("dedupe", "explain", str(incoming[2]["id"]))["decisions"]
    earlier = {incoming[0]["id"], incoming[1]["id"]}
    assert earlier <= {c["message"] for c in third_decision["candidates"]}
    lines = [
        line for line in desk.run("dedupe", "explain", str(incoming[2]["id"])).stdout.decode().splitlines()
    ]
    candidate_lines = [line for line in lines if line.lstrip().startswith("candidate")]
    assert len(set(candidate_lines)) == len(candidate_lines)
    assert all(any(f"message {m:>6} " in line for line in candidate_lines) for m in earlier)

    # Replaying stricter rules says what would change, and changes nothing.
    strict = desk.root / "strict.toml"
    strict.write_text(
        '[[dedupe.rules]]\nname = "exact-only"\nscope = "same_sender"\nwindow = "72h"\n'
        'fields = ["subject", "body"]\nscorer = "ratio"\nthreshold = 99.5\naction = "merge"\n'
    )
    replay = desk.json(
        "dedupe",
        "replay",
        "--rules",
        str(strict),
        "--since",
        "1d",
        "--eval-set",
        str(Path(__file__).parent / "data" / "dedupe" / "eval.jsonl"),
    )
    # The urgent repeat normalises to the very same text (urgency and chasing removed): still merged.
    assert replay["examined"] == 3 and replay["merges_removed"] == 1 and replay["merges_added"] == 0
    assert [c["message"] for c in replay["changes"]] == [incoming[2]["id"]]
    assert replay["history"]["right"] == 1 and replay["history"]["missed"] == 1
    [quality] = replay["evaluation"]
    assert quality["rule"] == "exact-only" and quality["precision"] >= 0.98
    assert desk.json("tickets", "show", row["number"])["merged_count"] == 2


def test_a_different_concern_from_the_same_sender_is_a_second_ticket(desk: Desk) -> None:
    desk.send(make_mail(sender=KIM, subject="Passwort vergessen", body=REQUEST))
    wait_processed(desk, 1)
    desk.send(
        make_mail(
            sender=KIM,
            subject="Rechnung RE-482913 doppelt abgebucht",
            body="Hallo,\n\ndie Rechnung RE-482913 wurde zweimal abgebucht. "
            "Bitte erstatten Sie den Betrag.\n\n"
            "Viele Grüße\nKim Kunde\n",
        )
    )
    wait_processed(desk, 2)
    rows = desk.json("tickets", "list")
    assert len(rows) == 2
    assert all(desk.json("tickets", "show", r["number"])["merged_count"] == 0 for r in rows)
    wait_for_outbox(desk, 2)
    subjects = sorted(str(m["Subject"]) for m in mails_to(desk, "kim@customer.example"))
    numbers = sorted(r["number"] for r in rows)
    assert [s[: len("[Ticket#10001]")] for s in subjects] == [f"[Ticket#{n}]" for n in numbers]
    assert all("eingegangen" in s for s in subjects)  # two acknowledgements, no duplicate notice


OUTAGE = [
    (
        "Webseite nicht erreichbar",
        "meine Webseite ist seit heute morgen nicht erreichbar, es kommt nur Fehler 503 "
        "Service Unavailable. Ist bei Ihnen eine Störung?",
    ),
    (
        "Störung? Website nicht erreichbar",
        "seit etwa einer Stunde ist unsere Website nicht erreichbar, Fehler 503 "
        "Service Unavailable. Gibt es eine Störung?",
    ),
    (
        "Website down - 503",
        "unsere Website ist down, seit heute morgen nur Fehler 503 Service "
        "Unavailable. Gibt es eine Störung?",
    ),
    (
        "Fehler 503 - Webseite nicht erreichbar",
        "unsere Webseite ist nicht erreichbar, der Browser zeigt nur "
        "Fehler 503 Service Unavailable. Liegt eine Störung vor?",
    ),
]


def _outage_mail(number: int) -> EmailMessage:
    subject, text = OUTAGE[number % len(OUTAGE)]
    greeting = ("Hallo,", "Guten Tag,", "Sehr geehrte Damen und Herren,")[number % 3]
    return make_mail(
        sender=f"Kunde {number} <kunde{number}@firma{number}.example>",
        subject=subject,
        body=f"{greeting}\n\n{text}\n\nGruß\nKunde {number}\n",
    )


def test_twenty_customers_one_outage_one_cluster_answered_in_their_threads(
    desk: Desk, tmp_path: Path
) -> None:
    sent = [_outage_mail(number) for number in range(20)]
    for number, mail in enumerate(sent):
        desk.send(mail, sender=f"kunde{number}@firma{number}.example")
    wait_processed(desk, 20)
    assert len(desk.json("tickets", "list")) == 20
    [cluster] = desk.json("clusters", "list")
    assert cluster["tickets"] == 20 and cluster["open_tickets"] == 20
    detail = desk.json("clusters", "show", str(cluster["id"]))
    assert len({t["customer"] for t in detail["tickets"]}) == 20
    wait_for_outbox(desk, 20)  # the acknowledgements

    body = tmp_path / "answer.txt"
    body.write_text(
        "Die Störung der Webserver ist behoben. Bitte entschuldigen Sie die Unannehmlichkeiten.\n"
    )
    out = desk.run("clusters", "reply", str(cluster["id"]), "--body-file", str(body)).stdout.decode()
    assert out.startswith("queued 20 replies")
    wait_for_outbox(desk, 40)
    by_customer = {}
    for mail in (read_mail(path) for path in desk.outbox_files()):
        if "behoben" in mail.get_content():
            by_customer[mail["To"].addresses[0].addr_spec] = mail
    assert len(by_customer) == 20
    tickets = {t["customer"]: t["number"] for t in detail["tickets"]}
    for number, original in enumerate(sent):
        customer = f"kunde{number}@firma{number}.example"
        reply = by_customer[customer]
        assert reply["In-Reply-To"] == original["Message-ID"]  # in the customer's own thread
        assert str(reply["Subject"]).startswith(f"[Ticket#{tickets[customer]}]")
        assert reply["Reply-To"].addresses[0].addr_spec.startswith(f"support+{tickets[customer]}-")

    templated = desk.run(
        "clusters", "reply", str(cluster["id"]), "--template", "cluster_reply"
    ).stdout.decode()
    assert templated.startswith("queued 20 replies")
    missing = desk.run("clusters", "reply", str(cluster["id"]), "--template", "nope", check=False)
    assert missing.returncode == 1 and b"no template" in missing.stderr

    removed = detail["tickets"][3]["number"]
    assert desk.run("clusters", "remove", removed).stdout.decode().startswith(f"ticket {removed} removed")
    assert desk.json("clusters", "list")[0]["tickets"] == 19


def test_unmerge_restores_a_separate_ticket_with_its_own_acknowledgement(desk: Desk) -> None:
    desk.send(make_mail(sender=KIM, subject="Passwort vergessen", body=REQUEST))
    wait_processed(desk, 1)
    desk.send(make_mail(sender=KIM, subject="Re: Passwort vergessen", body=REQUEST))
    wait_processed(desk, 2)
    wait_for_outbox(desk, 2)  # acknowledgement + duplicate notice
    [row] = desk.json("tickets", "list")
    merged = next(m for m in desk.json("tickets", "show", row["number"])["messages"] if m["duplicate"])

    out = desk.run("tickets", "unmerge", str(merged["id"])).stdout.decode()
    rows = desk.json("tickets", "list")
    assert len(rows) == 2
    new = next(r for r in rows if r["number"] != row["number"])
    assert (
        out.strip()
        == f"message {merged['id']} moved from ticket {row['number']} to new ticket {new['number']}"
    )
    split = desk.json("tickets", "show", new["number"])
    assert [(m["id"], m["duplicate"]) for m in split["messages"] if m["direction"] == "in"] == [
        (merged["id"], False)
    ]
    assert desk.json("tickets", "show", row["number"])["merged_count"] == 0
    wait_for_outbox(desk, 3)
    acks = [m for m in mails_to(desk, "kim@customer.example") if "eingegangen" in str(m["Subject"])]
    assert sorted(str(m["Subject"])[:14] for m in acks) == sorted(
        f"[Ticket#{n}]" for n in (row["number"], new["number"])
    )

    again = desk.run("tickets", "unmerge", str(merged["id"]), check=False)
    assert again.returncode == 1 and b"was not merged by dedupe" in again.stderr
    explained = desk.json("dedupe", "explain", "--message", str(merged["id"]))
    assert explained["decisions"][0]["corrections"][0]["kind"] == "unmerge"


def test_invalid_rule_file_is_refused_with_the_rule_and_key(make_desk: Callable[..., Desk]) -> None:
    desk = make_desk()
    desk.config.write_text(
        desk.config.read_text()
        + '\n[[dedupe.rules]]\nname = "my-rule"\nscope = "same_sender"\nwindow = "72h"\n'
        'fields = ["subject", "body"]\nscorer = "fuzzy_magic"\nthreshold = 88\naction = "merge"\n'
    )
    result = desk.run("tickets", "list", check=False)
    assert result.returncode == 1
    message = result.stderr.decode().strip()
    assert "rule 'my-rule': scorer: unknown rapidfuzz scorer" in message and "'fuzzy_magic'" in message
    assert len(message.splitlines()) == 1
