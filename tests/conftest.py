"""Test fixtures: a real `postdesk serve` process on a loopback port, its
store (SQLite, then PostgreSQL: every store-touching test runs on both, see
pg_support.py) and maildir in a temporary folder, and helpers to talk to it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest

from pg_support import Databases, backends, require_postgresql
from postdesk.config import load_settings
from postdesk.receive.spool import Received, spool_messages
from postdesk.runtime.desk import Desk as InProcessDesk
from postdesk.runtime.desk import open_desk
from postdesk.store.session import Store, open_store

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processes_with_config(config: Path) -> list[int]:
    """Live processes whose environment has POSTDESK_CONFIG=CONFIG (zombies have none)."""
    marker = f"POSTDESK_CONFIG={config}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def toml_dump(data: dict[str, Any], prefix: str = "") -> str:
    """Just enough TOML for test configs: nested tables of scalars and lists."""
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    out = "\n".join(lines) + "\n"
    for key, value in tables:
        name = f"{prefix}.{key}" if prefix else key
        out += f"\n[{name}]\n" + toml_dump(value, name)
    return out


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result


def make_mail(
    sender: str = "Kim Kunde <kim@customer.example>",
    to: str = "support@example.com",
    subject: str = "Hilfe beim Login",
    body: str = "Ich komme nicht mehr in mein Konto.\n",
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="customer.example")
    message["Date"] = "Mon, 23 Nov 2026 10:00:00 +0100"
    message.set_content(body)
    # After set_content, which drops any Content-* header set before it.
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    return message


def open_local_desk(tmp_path: Path, databases: Databases, **env: str) -> InProcessDesk:
    """A desk opened in the test's own process (no server): store migrated, outbound to a maildir."""
    settings = load_settings(
        None,
        {
            "POSTDESK_STORE__URL": databases.url(tmp_path),
            "POSTDESK_OUTBOUND__TRANSPORT": f"maildir:{tmp_path / 'outbox'}",
            "POSTDESK_DESK__SECRET": "test",
            **env,
        },
    )
    return open_desk(settings, migrate=True)


@dataclass
class Desk:
    """A postdesk installation in a folder, and (once started) its server process."""

    root: Path
    settings: dict[str, Any]
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    _store: Store | None = field(default=None, repr=False)

    @property
    def config(self) -> Path:
        return self.root / "postdesk.toml"

    @property
    def maildir(self) -> Path:
        return self.root / "outbox"

    @property
    def log(self) -> Path:
        return self.root / "serve.log"

    def write_config(self) -> None:
        self.config.write_text(toml_dump(self.settings))

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("POSTDESK_")}
        env["POSTDESK_CONFIG"] = str(self.config)
        return env

    def run(
        self, *args: str, input: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run(
            [sys.executable, "-m", "postdesk", *args],
            input=input,
            capture_output=True,
            cwd=self.root,
            env=self.env(),
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"postdesk {' '.join(args)} exited {result.returncode}: {result.stderr.decode()}"
            )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def start(self) -> None:
        self.write_config()
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "postdesk", "serve"],
            cwd=self.root,
            env=self.env(),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"postdesk serve exited early:\n{self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"postdesk serve did not listen on {self.port}:\n{self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Stop serve with SIG; one that has not ended after TIMEOUT seconds is killed."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code

    def processes(self) -> list[int]:
        """Live processes of this desk: serve, its children and their helpers
        (found by the config path in their environment, which they inherit)."""
        return processes_with_config(self.config)

    def wait_for_no_processes(self, timeout: float = 10) -> list[int]:
        """Wait until no process of this desk is left; returns those still there after TIMEOUT."""
        deadline = time.monotonic() + timeout
        while (left := self.processes()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return left

    def send(
        self,
        message: EmailMessage | bytes,
        sender: str = "kim@customer.example",
        recipients: tuple[str, ...] = ("support@example.com",),
    ) -> Any:
        raw = message.as_bytes() if isinstance(message, EmailMessage) else message
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
            return client.sendmail(sender, list(recipients), raw)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.settings["store"]["url"])
        return self._store

    def wait_until(self, check: Callable[[], Any], timeout: float = 45, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.05)
        log = self.log.read_text() if self.log.exists() else ""
        raise AssertionError(f"timed out waiting for {what}\n--- serve log ---\n{log[-4000:]}")

    def outbox_files(self) -> list[Path]:
        new = self.maildir / "new"
        return sorted(new.iterdir()) if new.exists() else []

    def close(self) -> None:
        """Stop serve (SIGTERM, then SIGKILL) and fail when any of its processes outlives it."""
        self.stop()
        if self._store is not None:
            self._store.dispose()
        left = self.wait_for_no_processes()
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if left:
            raise AssertionError(f"processes of the desk in {self.root} outlived serve: {left}")


@pytest.fixture(params=backends())
def backend(request: pytest.FixtureRequest) -> str:
    """The store backend of this test run: "sqlite" or "postgresql"."""
    if request.param == "postgresql":
        require_postgresql()
    return request.param


@pytest.fixture
def databases(backend: str) -> Iterator[Databases]:
    """Fresh, empty store URLs on this run's backend; PostgreSQL ones dropped at the end."""
    made = Databases(backend)
    yield made
    made.drop_all()


@pytest.fixture
def make_desk(tmp_path: Path, databases: Databases) -> Iterator[Callable[..., Desk]]:
    """Build a desk in its own folder; SETTINGS are merged over test defaults."""
    desks: list[Desk] = []

    def build(settings: dict[str, Any] | None = None, name: str = "desk") -> Desk:
        root = tmp_path / name
        root.mkdir()
        port = free_port()
        base = {
            "store": {"url": databases.url(root)},
            "desk": {
                "address": "support@example.com",
                "name": "Example Support",
                "language": "de",
                "secret": "test-secret",
            },
            "ingest": {"smtp": {"host": "127.0.0.1", "port": port}},
            "outbound": {"transport": f"maildir:{root / 'outbox'}", "retry_base_seconds": 0.2},
            "pipeline": {"poll_seconds": 0.2},
        }
        desk = Desk(root=root, settings=merge(base, settings or {}), port=port)
        desk.write_config()
        desks.append(desk)
        return desk

    yield build
    leftovers = []
    for desk in desks:
        try:
            desk.close()
        except AssertionError as error:
            leftovers.append(str(error))
    if leftovers:
        raise AssertionError("\n".join(leftovers))


@pytest.fixture
def desk(make_desk: Callable[..., Desk]) -> Desk:
    """A running desk with default test settings."""
    running = make_desk()
    running.start()
    return running


def spool(store: Store, raw: bytes, sender: str | None, recipients: tuple[str, ...]) -> int:
    """Store RAW in the spool as `postdesk mailgate` would."""
    return spool_messages(store, [Received(raw, "mailgate", sender, recipients)])[0]
