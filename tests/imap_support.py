"""A real Dovecot for the IMAP tests: its own config, a passwd-file user and a
maildir in a temporary folder, listening on a free loopback port.

Run as root (CI), Dovecot drops to `nobody` for the mail processes; run as
anyone else, it runs everything as that user.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from conftest import Desk, free_port, toml_dump

DOVECOT = Path("/usr/sbin/dovecot")
USER = "support"
PASSWORD = "s3cret-imap-pass"

# Dovecot 2.3's own list after login, less what a test takes away.
FULL_CAPABILITIES = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES THREAD=REFS "
    "THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS "
    "LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH "
    "LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY"
)


def _signal_group(group: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, sig)


def capabilities_without(*names: str) -> str:
    return " ".join(word for word in FULL_CAPABILITIES.split() if word not in names)


@dataclass
class Dovecot:
    """One Dovecot instance; `start`/`stop` may be called again (a restart)."""

    root: Path
    port: int
    capabilities: str | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def log(self) -> Path:
        return self.root / "dovecot.log"

    def write_config(self) -> Path:
        if os.geteuid() == 0:
            account = pwd.getpwnam("nobody")
            users = ""
        else:
            account = pwd.getpwuid(os.getuid())
            me = getpass.getuser()
            users = f"default_internal_user = {me}\ndefault_login_user = {me}\n"
        self.home.mkdir(exist_ok=True)
        os.chown(self.home, account.pw_uid, account.pw_gid)
        (self.root / "passwd").write_text(
            f"{USER}:{{PLAIN}}{PASSWORD}:{account.pw_uid}:{account.pw_gid}::{self.home}\n"
        )
        capability = (
            f"protocol imap {{\n  imap_capability = {self.capabilities}\n}}\n" if self.capabilities else ""
        )
        config = self.root / "dovecot.conf"
        config.write_text(
            f"""protocols = imap
listen = 127.0.0.1
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.log}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 1
mail_location = maildir:~/Maildir
{users}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.root}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
{capability}"""
        )
        return config

    def start(self) -> None:
        config = self.write_config()
        handle = (self.root / "dovecot.out").open("ab")
        self.proc = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(config)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop ends its IMAP processes too
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"dovecot exited early:\n{(self.root / 'dovecot.out').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("dovecot did not answer in time")

    def stop(self) -> None:
        """Stop Dovecot and every IMAP process it started, as a service manager would:
        connected clients lose their connections."""
        if self.proc is None:
            return
        group = self.proc.pid
        _signal_group(group, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            _signal_group(group, signal.SIGKILL)
            self.proc.wait(timeout=10)
        _signal_group(group, signal.SIGKILL)  # IMAP processes the master left behind
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- a client for the test's own look at the mailbox -------------------

    def client(self) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        client.login(USER, PASSWORD)
        return client

    def append(self, folder: str, messages: Iterable[EmailMessage | bytes]) -> int:
        count = 0
        with self.client() as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for message in messages:
                raw = message.as_bytes() if isinstance(message, EmailMessage) else message
                client.append(folder, raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
                count += 1
        return count

    def uids(self, folder: str, *criteria: str) -> list[int]:
        with self.client() as client:
            if not client.folder_exists(folder):
                return []
            client.select_folder(folder, readonly=True)
            return sorted(client.search(list(criteria) or ["ALL"]))

    def count(self, folder: str, *criteria: str) -> int:
        return len(self.uids(folder, *criteria))

    def message_ids(self, folder: str) -> list[str]:
        with self.client() as client:
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            if not uids:
                return []
            fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            return sorted(
                data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode().split(":", 1)[1].strip()
                for data in fetched.values()
            )


def start_dovecot(capabilities: str | None = None) -> Dovecot:
    if not DOVECOT.exists() and not os.environ.get("CI"):
        # CI (`.ci/run`) installs it, and there a missing Dovecot fails the test.
        pytest.skip("needs Debian's dovecot-imapd (/usr/sbin/dovecot); .ci/run installs it")
    # Not under pytest's tmp_path: Dovecot's mail processes run as `nobody`
    # and must reach their folders, which pytest's private folder forbids.
    root = Path(tempfile.mkdtemp(prefix="postdesk-dovecot-"))
    root.chmod(0o755)
    server = Dovecot(root=root, port=free_port(), capabilities=capabilities)
    server.start()
    return server


def mailbox(server: Dovecot, name: str = "support", **settings: Any) -> dict[str, Any]:
    """A [[ingest.imap]] entry for SERVER; SETTINGS win."""
    base: dict[str, Any] = {
        "name": name,
        "host": "127.0.0.1",
        "port": server.port,
        "security": "none",
        "user": USER,
        "password": PASSWORD,
        "folder": "INBOX",
        "processed_folder": "Processed",
        "refused_folder": "Refused",
        "poll_seconds": 30,
    }
    base.update(settings)
    return base


def with_mailboxes(desk: Desk, *mailboxes: dict[str, Any]) -> Desk:
    """Give DESK [[ingest.imap]] entries (the shared TOML helper knows no arrays of tables)."""
    tables = "".join("\n[[ingest.imap]]\n" + toml_dump(entry) for entry in mailboxes)
    desk.write_config = lambda: desk.config.write_text(toml_dump(desk.settings) + tables)  # type: ignore[method-assign]
    desk.write_config()
    return desk
