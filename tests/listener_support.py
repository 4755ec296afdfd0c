"""Talking SMTP/LMTP to a running listener line by line, where smtplib hides answers
(LMTP gives one DATA answer per recipient; a refusal at connect has no greeting)."""

from __future__ import annotations

import socket

from sqlalchemy import select

from conftest import Desk
from postdesk.store.models import Inbound, InboundRaw


class Dialogue:
    """A raw SMTP/LMTP connection: send a line, read one reply (all its lines)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.file = self.sock.makefile("rb")

    def reply(self) -> str:
        lines = []
        while True:
            line = self.file.readline().decode()
            if not line:
                break
            lines.append(line.rstrip("\r\n"))
            if len(line) < 4 or line[3] != "-":
                break
        return "\n".join(lines)

    def say(self, line: str) -> str:
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def send_data(self, raw: bytes) -> None:
        """RAW (CRLF lines) dot-stuffed, then the final dot; read the replies with `reply`."""
        stuffed = b"\r\n".join(b"." + line if line.startswith(b".") else line for line in raw.split(b"\r\n"))
        self.sock.sendall(stuffed.removesuffix(b"\r\n") + b"\r\n.\r\n")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def stored(desk: Desk) -> list[tuple[list[str], bytes]]:
    """Every spooled message: its envelope recipients and its raw bytes."""
    with desk.store.transaction() as session:
        rows = session.execute(
            select(Inbound.recipients, InboundRaw.raw)
            .join(InboundRaw, InboundRaw.inbound_id == Inbound.id)
            .order_by(Inbound.id)
        ).all()
    return [(list(recipients), bytes(raw)) for recipients, raw in rows]
