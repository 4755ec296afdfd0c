"""Asking a SpamAssassin spamd for a score: the SPAMC/1.5 protocol over a TCP socket.

``CHECK`` sends the message and reads back one header,
``Spam: True ; 1000.0 / 5.0`` (verdict ; score / spamd's own threshold).
Everything that can go wrong (nothing listening, a timeout, an answer we
cannot read) is a `SpamdError`: the caller then processes the mail as not
checked, because a spam filter that is down must never cost a customer's mail.
"""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass

PROTOCOL = "SPAMC/1.5"
_STATUS = re.compile(r"^SPAMD/\d+\.\d+\s+(\d+)\s*(.*)$")
_SPAM = re.compile(r"^Spam:\s*(\w+)\s*;\s*(-?\d+(?:\.\d+)?)\s*/\s*(-?\d+(?:\.\d+)?)\s*$", re.IGNORECASE)


class SpamdError(Exception):
    """spamd could not be asked or gave no answer we can read."""


@dataclass(frozen=True, slots=True)
class SpamdAnswer:
    spam: bool
    score: float
    threshold: float


def check(raw: bytes, host: str, port: int, timeout: float) -> SpamdAnswer:
    """spamd's verdict on RAW; SpamdError when it cannot be had within TIMEOUT seconds in all.

    One deadline for the whole exchange, not one per step: a spamd that
    trickles its answer must not keep the mail past [pipeline] message_timeout_seconds."""
    request = f"CHECK {PROTOCOL}\r\nContent-length: {len(raw)}\r\n\r\n".encode() + raw
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.settimeout(_left(deadline))
            connection.sendall(request)
            connection.shutdown(socket.SHUT_WR)
            answer = _read_all(connection, deadline)
    except OSError as error:
        raise SpamdError(f"spamd at {host}:{port}: {error.strerror or error}") from None
    return parse_answer(answer, f"{host}:{port}")


def parse_answer(answer: bytes, where: str) -> SpamdAnswer:
    lines = answer.decode("latin-1").split("\r\n")
    status = _STATUS.match(lines[0]) if lines else None
    if status is None:
        raise SpamdError(f"spamd at {where}: unreadable answer {lines[0][:80]!r}")
    if status.group(1) != "0":
        raise SpamdError(f"spamd at {where}: error {status.group(1)} {status.group(2)}")
    for line in lines[1:]:
        spam = _SPAM.match(line)
        if spam is not None:
            return SpamdAnswer(
                spam.group(1).lower() in ("true", "yes"), float(spam.group(2)), float(spam.group(3))
            )
    raise SpamdError(f"spamd at {where}: answer without a Spam: header")


def _read_all(connection: socket.socket, deadline: float) -> bytes:
    parts: list[bytes] = []
    while True:
        connection.settimeout(_left(deadline))
        chunk = connection.recv(65536)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left
