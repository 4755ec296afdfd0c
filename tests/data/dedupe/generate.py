"""Generate the dedupe evaluation set (eval.jsonl) — deterministic: same seed, same file.

    python tests/data/dedupe/generate.py

Each line is one support mail: sender, time, language, subject, text, the
concern it is about (the label for same-sender repeats), its topic (the label
for clusters across customers: an incident, or a request type such as
"password-forgotten"; a request naming an invoice or contract number is its
own topic), and how it was made ("original",
"paraphrase", "urgent", "forward", "quoted", "other-concern", "other-invoice",
"outage", "outage-next-week"). Two mails repeat each other exactly when they
have the same concern; concerns are per customer, except incidents, which
many customers report.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED = 20261123
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)

FIRST = [
    "Kim",
    "Jonas",
    "Lea",
    "Mia",
    "Paul",
    "Anna",
    "Lukas",
    "Sophie",
    "Felix",
    "Emma",
    "Ben",
    "Laura",
    "Tom",
    "Julia",
    "Max",
    "Nina",
    "Sarah",
    "David",
    "Lisa",
    "Jan",
    "Emily",
    "James",
    "Olivia",
    "Noah",
]
LAST = [
    "Becker",
    "Schulz",
    "Wagner",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Neumann",
    "Schröder",
    "Smith",
    "Jones",
    "Brown",
    "Taylor",
    "Walker",
    "Wright",
    "Green",
    "Hall",
    "Lehmann",
    "Krüger",
]

# concern -> language -> variants of (subject, body). {n} is an invoice/contract number, {d} a domain.
CONCERNS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "password-forgotten": {
        "de": [
            (
                "Passwort vergessen",
                "ich habe mein Passwort für das Kundenkonto vergessen und komme nicht mehr rein. "
                "Der Link zum Zurücksetzen kommt bei mir nicht an. Können Sie mir helfen?",
            ),
            (
                "Kann mich nicht einloggen - Passwort vergessen",
                "ich komme nicht mehr in mein Kundenkonto, weil ich "
                "mein Passwort vergessen habe. Die Mail zum Zurücksetzen kommt nicht an.",
            ),
            (
                "Zugang zum Kundenkonto",
                'leider habe ich mein Passwort vergessen. Über "Passwort zurücksetzen" '
                "bekomme ich keine E-Mail. Bitte helfen Sie mir, wieder in mein Kundenkonto zu kommen.",
            ),
        ],
        "en": [
            (
                "Forgot my password",
                "I forgot the password for my customer account and can't log in anymore. "
                "The reset link never arrives. Can you help?",
            ),
            (
                "Can't log in - forgotten password",
                "I can't get into my customer account because I forgot my "
                "password. The password reset email does not arrive.",
            ),
            (
                "Account access",
                'unfortunately I forgot my password. When I use "reset password" I don\'t get any '
                "email. Please help me get back into my customer account.",
            ),
        ],
    },
    "password-change": {
        "de": [
            (
                "Passwort ändern",
                "wie kann ich das Passwort meines Postfachs ändern? Ich bin eingeloggt, finde "
                "aber die Einstellung nicht.",
            ),
            (
                "Passwort für Postfach ändern",
                "ich möchte das Passwort für mein E-Mail-Postfach ändern, weil es "
                "zu einfach ist. Wo geht das im Kundenmenü?",
            ),
            (
                "Neues Passwort setzen",
                "ich möchte aus Sicherheitsgründen ein neues Passwort für mein Postfach "
                "setzen. Wo finde ich die Einstellung dafür?",
            ),
        ],
        "en": [
            (
                "Change password",
                "how do I change the password of my mailbox? I am logged in but can't find the setting.",
            ),
            (
                "Change mailbox password",
                "I want to change the password for my email mailbox because it is too "
                "simple. Where can I do that in the customer menu?",
            ),
            (
                "Set a new password",
                "for security reasons I would like to set a new password for my mailbox. "
                "Where do I find the setting?",
            ),
        ],
    },
    "invoice-wrong": {
        "de": [
            (
                "Rechnung {n} falsch",
                "die Rechnung {n} ist zu hoch. Dort ist das Paket Business berechnet, ich "
                "habe aber nur Basic gebucht. Bitte korrigieren Sie die Rechnung.",
            ),
            (
                "Fehler in Rechnung {n}",
                "in der Rechnung {n} wurde mir der falsche Tarif berechnet (Business statt "
                "Basic). Ich bitte um eine Korrektur.",
            ),
            (
                "Rechnung {n} - falscher Betrag",
                "auf der Rechnung {n} steht ein zu hoher Betrag, weil Business "
                "statt Basic abgerechnet wurde. Bitte schicken Sie mir eine korrigierte Rechnung.",
            ),
        ],
        "en": [
            (
                "Invoice {n} is wrong",
                "invoice {n} is too high. It charges the Business package but I only booked "
                "Basic. Please correct the invoice.",
            ),
            (
                "Error in invoice {n}",
                "invoice {n} charges me the wrong plan (Business instead of Basic). Please correct it.",
            ),
            (
                "Invoice {n} - wrong amount",
                "invoice {n} shows too high an amount because Business was billed "
                "instead of Basic. Please send me a corrected invoice.",
            ),
        ],
    },
    "cancel-contract": {
        "de": [
            (
                "Kündigung Vertrag {n}",
                "hiermit kündige ich meinen Vertrag {n} zum nächstmöglichen Zeitpunkt. "
                "Bitte bestätigen Sie mir die Kündigung schriftlich.",
            ),
            (
                "Kündigung",
                "ich möchte meinen Vertrag {n} kündigen, fristgerecht zum nächsten möglichen Termin. "
                "Bitte senden Sie mir eine Bestätigung.",
            ),
            (
                "Vertrag {n} kündigen",
                "bitte kündigen Sie meinen Vertrag {n} zum nächstmöglichen Termin und "
                "bestätigen Sie mir das.",
            ),
        ],
        "en": [
            (
                "Cancellation of contract {n}",
                "I hereby cancel my contract {n} at the earliest possible date. "
                "Please confirm the cancellation in writing.",
            ),
            (
                "Cancel my contract",
                "I would like to cancel my contract {n} as of the next possible date. Please "
                "send me a confirmation.",
            ),
            (
                "Contract {n} cancellation",
                "please cancel my contract {n} at the earliest date and confirm it to me.",
            ),
        ],
    },
    "mailbox-full": {
        "de": [
            (
                "Postfach voll",
                "mein Postfach ist voll und ich bekomme keine E-Mails mehr. Kann man den "
                "Speicherplatz erhöhen?",
            ),
            (
                "Keine Mails mehr - Speicher voll",
                "seit gestern bekomme ich keine E-Mails mehr, es heißt das "
                "Postfach sei voll. Wie kann ich mehr Speicherplatz bekommen?",
            ),
            (
                "Speicherplatz Postfach",
                "mein E-Mail-Postfach ist voll, neue Mails kommen nicht mehr an. Bitte "
                "erhöhen Sie den Speicherplatz.",
            ),
        ],
        "en": [
            (
                "Mailbox full",
                "my mailbox is full and I no longer receive emails. Can the storage be increased?",
            ),
            (
                "No more emails - storage full",
                "since yesterday I don't receive any emails, it says the mailbox is "
                "full. How can I get more storage?",
            ),
            (
                "Mailbox storage",
                "my email mailbox is full, new mail no longer arrives. Please increase the storage.",
            ),
        ],
    },
    "domain-transfer": {
        "de": [
            (
                "AuthCode für {d}",
                "ich möchte die Domain {d} zu einem anderen Anbieter umziehen. Bitte schicken "
                "Sie mir den AuthCode.",
            ),
            (
                "Domainumzug {d}",
                "für den Umzug meiner Domain {d} zu einem anderen Provider brauche ich den "
                "AuthCode. Können Sie ihn mir zusenden?",
            ),
            (
                "Transfer {d} - AuthCode benötigt",
                "bitte senden Sie mir den AuthCode für {d}, ich ziehe die "
                "Domain zu einem anderen Anbieter um.",
            ),
        ],
        "en": [
            (
                "AuthCode for {d}",
                "I want to move the domain {d} to another provider. Please send me the AuthCode.",
            ),
            (
                "Domain transfer {d}",
                "to transfer my domain {d} to another provider I need the AuthCode. Can you send it to me?",
            ),
            (
                "Transfer of {d} - need AuthCode",
                "please send me the AuthCode for {d}, I am moving the domain to another provider.",
            ),
        ],
    },
    "ssl-expired": {
        "de": [
            (
                "SSL-Zertifikat abgelaufen",
                "auf meiner Seite {d} ist das SSL-Zertifikat abgelaufen, Besucher "
                "bekommen eine Warnung im Browser. Bitte erneuern Sie das Zertifikat.",
            ),
            (
                "Zertifikat {d} ungültig",
                "der Browser meldet für {d}, dass das Zertifikat abgelaufen ist. Können "
                "Sie das SSL-Zertifikat erneuern?",
            ),
            (
                "Sicherheitswarnung auf {d}",
                "Besucher meiner Website {d} sehen eine Sicherheitswarnung, das "
                "SSL-Zertifikat ist abgelaufen. Bitte um Erneuerung.",
            ),
        ],
        "en": [
            (
                "SSL certificate expired",
                "the SSL certificate on my site {d} has expired, visitors get a browser "
                "warning. Please renew the certificate.",
            ),
            (
                "Certificate for {d} invalid",
                "the browser says the certificate for {d} has expired. Can you renew the SSL certificate?",
            ),
            (
                "Security warning on {d}",
                "visitors to my website {d} see a security warning, the SSL certificate "
                "has expired. Please renew it.",
            ),
        ],
    },
    "bank-details": {
        "de": [
            (
                "Neue Bankverbindung",
                "meine Bankverbindung hat sich geändert. Bitte buchen Sie ab sofort von "
                "meinem neuen Konto ab, die IBAN schicke ich Ihnen gerne per Formular.",
            ),
            (
                "Änderung SEPA-Lastschrift",
                "ich habe die Bank gewechselt. Wie kann ich die Bankverbindung für die Lastschrift ändern?",
            ),
            (
                "Konto geändert",
                "bitte ändern Sie meine Bankverbindung für die Lastschrift, ich habe ein neues "
                "Konto bei einer anderen Bank.",
            ),
        ],
        "en": [
            (
                "New bank details",
                "my bank details have changed. Please debit my new account from now on, I can "
                "send you the IBAN via the form.",
            ),
            (
                "Change direct debit",
                "I switched banks. How can I change the bank details for the direct debit?",
            ),
            (
                "Account changed",
                "please change my bank details for the direct debit, I have a new account at another bank.",
            ),
        ],
    },
    "smtp-error": {
        "de": [
            (
                "Kann keine Mails versenden",
                "seit heute kann ich mit Outlook keine E-Mails mehr versenden. Es "
                "kommt der Fehler 535 Authentifizierung fehlgeschlagen. Empfangen geht.",
            ),
            (
                "Fehler 535 beim Senden",
                "beim Versenden von E-Mails bekomme ich den Fehler 535 "
                "Authentifizierung fehlgeschlagen. Empfangen funktioniert normal.",
            ),
            (
                "Versand geht nicht",
                "E-Mails versenden klappt nicht mehr, Outlook meldet 535 Authentication "
                "failed. Das Empfangen geht aber.",
            ),
        ],
        "en": [
            (
                "Can't send emails",
                "since today I can't send emails with Outlook anymore. I get error 535 "
                "authentication failed. Receiving works.",
            ),
            (
                "Error 535 when sending",
                "when sending emails I get error 535 authentication failed. Receiving works normally.",
            ),
            (
                "Sending does not work",
                "sending emails no longer works, Outlook says 535 Authentication failed. "
                "Receiving is fine though.",
            ),
        ],
    },
    "upgrade-plan": {
        "de": [
            (
                "Tarifwechsel auf Premium",
                "ich möchte von meinem aktuellen Tarif auf Premium wechseln. Was muss "
                "ich dafür tun und ab wann gilt der neue Preis?",
            ),
            (
                "Upgrade Premium",
                "bitte stellen Sie meinen Tarif auf Premium um. Ab wann wird der neue Preis berechnet?",
            ),
            (
                "Wechsel in höheren Tarif",
                "ich würde gern in den Premium-Tarif wechseln. Wie geht das und ab "
                "wann zahle ich den neuen Preis?",
            ),
        ],
        "en": [
            (
                "Upgrade to Premium",
                "I would like to switch from my current plan to Premium. What do I need to do "
                "and from when does the new price apply?",
            ),
            (
                "Plan upgrade Premium",
                "please switch my plan to Premium. From when will the new price be charged?",
            ),
            (
                "Switch to a higher plan",
                "I'd like to move to the Premium plan. How does that work and when do I "
                "start paying the new price?",
            ),
        ],
    },
    "restore-backup": {
        "de": [
            (
                "Backup wiederherstellen",
                "ich habe versehentlich Dateien auf meinem Webspace gelöscht. Können "
                "Sie das Backup von gestern wiederherstellen?",
            ),
            (
                "Dateien gelöscht - bitte Backup einspielen",
                "aus Versehen habe ich Dateien im Webspace gelöscht. "
                "Bitte spielen Sie das Backup vom Vortag ein.",
            ),
            (
                "Wiederherstellung Webspace",
                "bitte stellen Sie meinen Webspace aus dem Backup von gestern wieder "
                "her, ich habe Dateien gelöscht.",
            ),
        ],
        "en": [
            (
                "Restore backup",
                "I accidentally deleted files on my webspace. Can you restore yesterday's backup?",
            ),
            (
                "Deleted files - please restore backup",
                "I deleted files in my webspace by mistake. Please restore the backup from the day before.",
            ),
            ("Webspace restore", "please restore my webspace from yesterday's backup, I deleted some files."),
        ],
    },
    "refund": {
        "de": [
            (
                "Rückerstattung {n}",
                "Sie haben mir die Rechnung {n} doppelt abgebucht. Bitte erstatten Sie mir "
                "den doppelt gezahlten Betrag.",
            ),
            (
                "Doppelte Abbuchung {n}",
                "die Rechnung {n} wurde zweimal von meinem Konto abgebucht. Ich bitte um Rückerstattung.",
            ),
            (
                "Geld zurück für {n}",
                "für die Rechnung {n} wurde doppelt abgebucht, bitte überweisen Sie mir den Betrag zurück.",
            ),
        ],
        "en": [
            ("Refund {n}", "you charged invoice {n} twice. Please refund the amount paid twice."),
            ("Double charge {n}", "invoice {n} was debited twice from my account. I ask for a refund."),
            ("Money back for {n}", "invoice {n} was charged twice, please transfer the amount back to me."),
        ],
    },
}

# Incidents: many customers describe the same outage, each in their own words.
INCIDENTS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "outage-webserver": {
        "de": [
            (
                "Webseite nicht erreichbar",
                "meine Webseite {d} ist seit heute morgen nicht erreichbar, es kommt "
                "nur Fehler 503. Ist bei Ihnen eine Störung?",
            ),
            (
                "Störung? Website down",
                "seit etwa einer Stunde ist meine Website {d} down, Fehler 503 Service "
                "Unavailable. Gibt es eine Störung?",
            ),
            (
                "503 auf {d}",
                "auf {d} kommt nur noch 503 Service Unavailable. Haben Sie eine Störung bei den Webservern?",
            ),
            (
                "Homepage offline",
                "meine Homepage {d} ist offline, der Browser zeigt Fehler 503. Liegt eine Störung vor?",
            ),
        ],
        "en": [
            (
                "Website not reachable",
                "my website {d} has not been reachable since this morning, it only shows "
                "error 503. Is there an outage?",
            ),
            (
                "Outage? Website down",
                "my website {d} has been down for about an hour, error 503 Service "
                "Unavailable. Is there an outage?",
            ),
            (
                "503 on {d}",
                "{d} only returns 503 Service Unavailable. Do you have a problem with the web servers?",
            ),
            (
                "Homepage offline",
                "my homepage {d} is offline, the browser shows error 503. Is there an outage?",
            ),
        ],
    },
    "outage-mail": {
        "de": [
            (
                "E-Mail-Empfang gestört",
                "seit heute Mittag kommen keine E-Mails mehr an, Absender bekommen "
                "einen Fehler zurück. Ist der Mailserver gestört?",
            ),
            (
                "Keine Mails seit Mittag",
                "seit Mittag empfange ich keine E-Mails mehr, Absender bekommen eine "
                "Fehlermeldung. Gibt es eine Störung beim Mailserver?",
            ),
            (
                "Mailserver down?",
                "bei mir kommen seit heute Mittag keine E-Mails mehr an. Ist der Mailserver ausgefallen?",
            ),
        ],
        "en": [
            (
                "Email reception broken",
                "since noon no emails arrive anymore, senders get an error back. Is the mail server down?",
            ),
            (
                "No mail since noon",
                "since noon I don't receive any emails, senders get an error message. Is "
                "there a mail server outage?",
            ),
            (
                "Mail server down?",
                "no emails have arrived for me since noon today. Has the mail server failed?",
            ),
        ],
    },
}

GREETING = {
    "de": ["Hallo,", "Guten Tag,", "Sehr geehrte Damen und Herren,", "Hallo Support-Team,"],
    "en": ["Hello,", "Hi,", "Dear support team,", "Hi there,"],
}
CLOSING = {
    "de": ["Viele Grüße", "Mit freundlichen Grüßen", "Beste Grüße", "Gruß"],
    "en": ["Kind regards", "Best regards", "Thanks", "Cheers"],
}
URGENT_SUBJECT = {
    "de": ["DRINGEND: ", "Erinnerung: ", "2. Anfrage: ", "Nochmal: "],
    "en": ["URGENT: ", "Reminder: ", "2nd request: ", "Again: "],
}
URGENT_LINE = {
    "de": [
        "Ich habe bereits vor zwei Tagen geschrieben und noch keine Antwort erhalten!",
        "Bitte melden Sie sich endlich, das ist dringend!!!",
        "Ich warte immer noch auf eine Antwort.",
    ],
    "en": [
        "I already wrote two days ago and have not received an answer yet!",
        "Please get back to me, this is urgent!!!",
        "I am still waiting for a reply.",
    ],
}
NUDGE = {
    "de": [
        "Gibt es hierzu schon etwas Neues?",
        "Hat das jemand gelesen? Siehe unten.",
        "Ich hatte Ihnen das schon geschickt, siehe unten.",
    ],
    "en": ["Any news on this?", "Did anyone read this? See below.", "I already sent you this, see below."],
}


def main() -> None:
    out = Path(__file__).with_name("eval.jsonl")
    mails = generate()
    out.write_text("".join(json.dumps(m, ensure_ascii=False, sort_keys=True) + "\n" for m in mails))
    print(f"{out}: {len(mails)} mails")


def generate(seed: int = SEED) -> list[dict[str, object]]:
    rng = random.Random(seed)
    mails: list[dict[str, object]] = []
    numbers = iter(rng.sample(range(100000, 999999), 400))
    people = [(f, l_) for f in FIRST for l_ in LAST]
    rng.shuffle(people)
    person = iter(people)

    def customer() -> tuple[str, str, str]:
        first, last = next(person)
        address = (
            f"{first}.{last}".lower().replace("ü", "ue").replace("ö", "oe")
            + "@"
            + rng.choice(["mail.example", "web.example", "firma.example", "post.example"])
        )
        return first, f"{first} {last}", address

    def body(lang: str, first: str, text: str) -> str:
        signature = f"{rng.choice(CLOSING[lang])}\n{first}"
        if rng.random() < 0.4:
            signature += f"\nTel.: 0{rng.randint(30, 89)} {rng.randint(100000, 999999)}"
        return f"{rng.choice(GREETING[lang])}\n\n{text}\n\n{signature}\n"

    def add(
        case: str, concern: str, sender: str, name: str, at: datetime, lang: str, subject: str, text: str
    ) -> dict[str, object]:
        # Across customers, mails are about the same thing when their topic is the same: an
        # incident, or the same request type; a request about one invoice or contract is its own.
        kind = concern.split(":")[1] if "@" in concern else concern
        numbered = kind in CONCERNS and "{n}" in CONCERNS[kind]["de"][0][0]
        topic = concern if numbered else kind
        mail = {
            "id": f"m{len(mails) + 1:04d}",
            "case": case,
            "concern": concern,
            "topic": topic,
            "sender": sender,
            "name": name,
            "at": at.isoformat(),
            "lang": lang,
            "subject": subject,
            "text": text,
        }
        mails.append(mail)
        return mail

    def fill(template: str, slots: dict[str, str]) -> str:
        return template.format(**slots)

    # Customers with their own concern, repeats and hard negatives.
    concern_names = sorted(CONCERNS)
    for number in range(64):
        first, name, sender = customer()
        lang = "de" if number % 3 else "en"
        concern = concern_names[number % len(concern_names)]
        slots = {"n": f"RE-{next(numbers)}", "d": f"{first.lower()}-{number}.example"}
        label = f"{sender}:{concern}:{slots['n']}"
        at = START + timedelta(days=rng.randint(0, 20), hours=rng.randint(0, 9), minutes=rng.randint(0, 59))
        variants = CONCERNS[concern][lang]
        order = rng.sample(range(len(variants)), len(variants))
        subject, text = (fill(part, slots) for part in variants[order[0]])
        original = add("original", label, sender, name, at, lang, subject, body(lang, first, text))
        later = at
        for case in rng.sample(["paraphrase", "urgent", "forward", "quoted"], rng.randint(1, 3)):
            later += timedelta(hours=rng.randint(3, 30))
            if later - at > timedelta(hours=70):
                break
            if case == "paraphrase":
                s, t = (fill(part, slots) for part in variants[order[1]])
                add(case, label, sender, name, later, lang, s, body(lang, first, t))
            elif case == "urgent":
                s, t = (fill(part, slots) for part in variants[order[rng.randint(0, 2)]])
                t = f"{rng.choice(URGENT_LINE[lang])}\n\n{t}"
                add(
                    case,
                    label,
                    sender,
                    name,
                    later,
                    lang,
                    rng.choice(URGENT_SUBJECT[lang]) + s,
                    body(lang, first, t),
                )
            elif case == "forward":
                header = (
                    "-------- Weitergeleitete Nachricht --------\nBetreff: {s}\nDatum: {a}\nVon: {n} <{e}>\n"
                    "An: support@example.com\n\n"
                    if lang == "de"
                    else "---------- Forwarded message ---------\nFrom: {n} <{e}>\nDate: {a}\nSubject: {s}\n"
                    "To: support@example.com\n\n"
                )
                forwarded = header.format(
                    s=original["subject"], a=at.strftime("%d.%m.%Y %H:%M"), n=name, e=sender
                )
                t = f"{rng.choice(NUDGE[lang])}\n\n{forwarded}{original['text']}"
                add(
                    case,
                    label,
                    sender,
                    name,
                    later,
                    lang,
                    ("WG: " if lang == "de" else "Fwd: ") + str(original["subject"]),
                    t,
                )
            else:
                quote = "\n".join(f"> {line}" if line else ">" for line in str(original["text"]).splitlines())
                head = (
                    f"Am {at:%d.%m.%Y} um {at:%H:%M} schrieb {name} <{sender}>:"
                    if lang == "de"
                    else f"On {at:%a, %b %d, %Y at %H:%M}, {name} <{sender}> wrote:"
                )
                t = (
                    f"{rng.choice(GREETING[lang])}\n\n{rng.choice(NUDGE[lang])}\n\n{rng.choice(CLOSING[lang])}\n"
                    f"{first}\n\n{head}\n{quote}\n"
                )
                add(
                    case,
                    label,
                    sender,
                    name,
                    later,
                    lang,
                    ("AW: " if lang == "de" else "Re: ") + str(original["subject"]),
                    t,
                )
        # Hard negatives: the same customer, a different concern, inside the window.
        later = at + timedelta(hours=rng.randint(2, 40))
        if concern == "password-forgotten" or concern == "password-change":
            other = "password-change" if concern == "password-forgotten" else "password-forgotten"
            s, t = rng.choice(CONCERNS[other][lang])
            add("other-concern", f"{sender}:{other}", sender, name, later, lang, s, body(lang, first, t))
        elif "{n}" in CONCERNS[concern][lang][0][0]:
            other_slots = dict(slots, n=f"RE-{next(numbers)}")
            s, t = (fill(part, other_slots) for part in rng.choice(variants))
            add(
                "other-invoice",
                f"{sender}:{concern}:{other_slots['n']}",
                sender,
                name,
                later,
                lang,
                s,
                body(lang, first, t),
            )
        elif number % 2 == 0:
            other = concern_names[(number + 5) % len(concern_names)]
            other_slots = dict(slots, n=f"RE-{next(numbers)}")
            s, t = (fill(part, other_slots) for part in rng.choice(CONCERNS[other][lang]))
            add(
                "other-concern",
                f"{sender}:{other}:{other_slots['n']}",
                sender,
                name,
                later,
                lang,
                s,
                body(lang, first, t),
            )

    # Incidents: many customers within hours; a few report the same kind of outage a week later.
    for incident, day in (("outage-webserver", 6), ("outage-mail", 13)):
        began = START + timedelta(days=day, hours=9)
        reporters = []
        for number in range(22):
            first, name, sender = customer()
            lang = "de" if number % 4 else "en"
            slots = {"d": f"{first.lower()}{number}.example", "n": ""}
            s, t = (fill(part, slots) for part in rng.choice(INCIDENTS[incident][lang]))
            at = began + timedelta(minutes=rng.randint(0, 240))
            add("outage", incident, sender, name, at, lang, s, body(lang, first, t))
            reporters.append((first, name, sender, lang, slots))
        for first, name, sender, lang, slots in reporters[:4]:
            s, t = (fill(part, slots) for part in rng.choice(INCIDENTS[incident][lang]))
            at = began + timedelta(days=7, minutes=rng.randint(0, 240))
            add("outage-next-week", f"{incident}:week2", sender, name, at, lang, s, body(lang, first, t))
    mails.sort(key=lambda m: (str(m["at"]), str(m["id"])))
    return mails


if __name__ == "__main__":
    main()
