"""An auto-responder peer for the loop tests: an aiosmtpd server on loopback
that answers every mail it receives with an automatic mail to the desk."""

from __future__ import annotations

import email
import email.policy
import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid

from aiosmtpd.controller import Controller

# The peer's automatic answer to a mail it received: (envelope sender, recipient, message).
Answer = Callable[[EmailMessage], tuple[str, str, EmailMessage]]


@dataclass
class AutoResponder:
    """Receives the desk's outgoing mail; answers each one through the desk's SMTP listener."""

    desk_port: int
    answer: Answer
    received: list[EmailMessage] = field(default_factory=list)
    answered: int = 0
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[attr-defined]
        with self._lock:
            self.received.append(message)  # type: ignore[arg-type]
        # Answer from a thread: the desk's SMTP listener is another process, and
        # this handler must say 250 to the desk's sender without waiting for it.
        thread = threading.Thread(target=self._send_answer, args=(message,))
        self._threads.append(thread)
        thread.start()
        return "250 OK"

    def _send_answer(self, message: EmailMessage) -> None:
        sender, recipient, answer = self.answer(message)
        try:
            with smtplib.SMTP("127.0.0.1", self.desk_port, timeout=30) as client:
                client.sendmail(sender, [recipient], answer.as_bytes())
            with self._lock:
                self.answered += 1
        except (OSError, smtplib.SMTPException) as error:
            self.errors.append(repr(error))

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=30)


def start_responder(port: int, desk_port: int, answer: Answer) -> tuple[Controller, AutoResponder]:
    responder = AutoResponder(desk_port, answer)
    controller = Controller(responder, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, responder


def reply_to(
    message: EmailMessage, sender: str, subject: str, body: str, to: str = "", **headers: str
) -> EmailMessage:
    """An answer to MESSAGE (to its Reply-To or From unless TO is given) with the given headers
    (In-Reply-To and the like passed explicitly)."""
    answer = EmailMessage()
    answer["From"] = sender
    answer["To"] = to or str(message.get("Reply-To") or message["From"])
    answer["Subject"] = subject
    answer["Message-ID"] = make_msgid(domain="peer.example")
    answer["Date"] = "Mon, 23 Nov 2026 10:05:00 +0100"
    for name, value in headers.items():
        answer[name.replace("_", "-")] = value
    answer.set_content(body)
    return answer
