"""Talking to one IMAP server: connect, log in, select, and errors worded
as one line a user can act on (wrong password, TLS failure, missing folder).

The client library is IMAPClient; this module only adds what postdesk needs
around it: TLS by default, TCP keepalive (a silently dropped connection is
noticed within minutes, also in IDLE), and clear failures.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from dataclasses import dataclass

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientError, LoginError

from postdesk.config.model import ImapMailboxSettings

CONNECT_TIMEOUT_SECONDS = 15.0
# Longest wait for any one answer outside IDLE; a server that says nothing
# for this long is taken to be gone (the connection is dropped and made anew).
READ_TIMEOUT_SECONDS = 120.0
# TCP keepalive: first probe after a minute of silence, then every 15 s; four
# unanswered probes end the connection. Keeps NAT routers from forgetting an
# idle connection, and notices a dead peer in about two minutes.
KEEPALIVE = (60, 15, 4)


class ImapProblem(Exception):
    """A failure worded for the user, one line, never holding the password."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    move: bool
    uidplus: bool
    idle: bool
    all: tuple[str, ...]

    @classmethod
    def of(cls, client: IMAPClient) -> Capabilities:
        names = tuple(sorted(c.decode() if isinstance(c, bytes) else str(c) for c in client.capabilities()))
        upper = {name.upper() for name in names}
        return cls(move="MOVE" in upper, uidplus="UIDPLUS" in upper, idle="IDLE" in upper, all=names)


@dataclass(frozen=True, slots=True)
class Selected:
    """The folder as SELECT reported it."""

    uidvalidity: int
    exists: int
    uidnext: int | None


def source_of(mailbox: ImapMailboxSettings) -> str:
    """Where a mailbox reads: a state recorded for another source starts afresh."""
    return f"{mailbox.user}@{mailbox.host}:{mailbox.effective_port}/{mailbox.folder}"


def connect(mailbox: ImapMailboxSettings, *, read_timeout: float = READ_TIMEOUT_SECONDS) -> IMAPClient:
    """A logged-in client for MAILBOX. Raises ImapProblem with a clear reason."""
    # IMAPClient logs each command at debug and each closed connection at
    # info; postdesk logs what matters about a mailbox itself, in one line.
    logging.getLogger("imapclient").setLevel(logging.WARNING)
    where = f"{mailbox.host}:{mailbox.effective_port}"
    context = ssl.create_default_context()
    try:
        client = IMAPClient(
            mailbox.host,
            port=mailbox.effective_port,
            ssl=mailbox.security == "tls",
            ssl_context=context,
            timeout=SocketTimeout(connect=CONNECT_TIMEOUT_SECONDS, read=read_timeout),
        )
    except Exception as error:
        raise ImapProblem(f"cannot connect to {where}: {describe(error)}") from None
    try:
        if mailbox.security == "starttls":
            if not client.has_capability("STARTTLS"):
                raise ImapProblem(f'{where} does not offer STARTTLS; use security = "tls" (port 993)')
            client.starttls(context)
        _keepalive(client.socket())
        try:
            client.login(mailbox.user, mailbox.resolved_password())
        except LoginError as error:
            raise ImapProblem(
                f"login to {where} as {mailbox.user!r} refused: {_server_text(error)} "
                "(check user and password)"
            ) from None
        except OSError as error:
            if isinstance(error, FileNotFoundError | PermissionError | IsADirectoryError):
                raise ImapProblem(
                    f"cannot read password_file {mailbox.password_file}: {error.strerror}"
                ) from None
            raise
    except ImapProblem:
        _close(client)
        raise
    except Exception as error:
        _close(client)
        raise ImapProblem(f"{where}: {describe(error)}") from None
    return client


def select(client: IMAPClient, folder: str, *, readonly: bool = False) -> Selected:
    """Select FOLDER; a missing one is an ImapProblem naming the folders there are."""
    try:
        info = client.select_folder(folder, readonly=readonly)
    except IMAPClientError as error:
        if not _exists(client, folder):
            raise ImapProblem(
                f"folder {folder!r} does not exist (there are: {_folder_list(client)})"
            ) from None
        raise ImapProblem(f"cannot open folder {folder!r}: {_server_text(error)}") from None
    uidnext = info.get(b"UIDNEXT")
    return Selected(
        uidvalidity=int(info[b"UIDVALIDITY"]),
        exists=int(info.get(b"EXISTS", 0)),
        uidnext=int(uidnext) if uidnext is not None else None,
    )


def ensure_folder(client: IMAPClient, folder: str) -> bool:
    """Create FOLDER unless it exists; True when it was created."""
    if _exists(client, folder):
        return False
    try:
        client.create_folder(folder)
    except IMAPClientError as error:
        # Another client (or the server's own autocreate) may make it between
        # our LIST and CREATE; a folder that is there now is what we wanted.
        if _exists(client, folder):
            return False
        raise ImapProblem(f"cannot create folder {folder!r}: {_server_text(error)}") from None
    return True


def folder_exists(client: IMAPClient, folder: str) -> bool:
    return _exists(client, folder)


def describe(error: BaseException) -> str:
    """One line for any failure while talking to a server."""
    if isinstance(error, ImapProblem):
        return str(error)
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        reason = error.reason or str(error)
        hint = (
            ' (is this port plain IMAP? then use security = "starttls")'
            if "WRONG_VERSION" in str(reason).upper()
            else ""
        )
        return f"TLS handshake failed: {reason}{hint}"
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror})"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the server running, is the port right?)"
    if isinstance(error, TimeoutError | socket.timeout):
        return "no answer in time (timed out)"
    if isinstance(error, ConnectionError | EOFError):
        return "the server closed the connection"
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    if isinstance(error, IMAPClientError):
        return f"the server said: {_server_text(error)}"
    return f"{type(error).__name__}: {error}"


def _server_text(error: Exception) -> str:
    text = str(error)
    # imaplib wraps the server's words as "b'[AUTHENTICATIONFAILED] …'".
    if text.startswith(("b'", 'b"')) and text.endswith(("'", '"')):
        text = text[2:-1]
    return text.strip() or type(error).__name__


def _exists(client: IMAPClient, folder: str) -> bool:
    try:
        return bool(client.folder_exists(folder))
    except IMAPClientError:
        return False


def _folder_list(client: IMAPClient) -> str:
    try:
        names = [name for _flags, _delim, name in client.list_folders()]
    except IMAPClientError:
        return "unknown"
    return ", ".join(sorted(names)[:20]) or "none"


def _keepalive(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    idle, interval, count = KEEPALIVE
    for option, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", interval), ("TCP_KEEPCNT", count)):
        if hasattr(socket, option):  # Linux; elsewhere the system's defaults apply
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


def _close(client: IMAPClient) -> None:
    with contextlib.suppress(Exception):  # already gone; nothing more to release
        client.shutdown()


def close(client: IMAPClient) -> None:
    """Log out politely if the connection still works, else just drop it."""
    try:
        client.logout()
    except Exception:
        _close(client)
