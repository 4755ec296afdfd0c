"""A private Postfix instance for tests: Debian's postfix, run from a temporary
config directory on loopback ports, stopped at teardown.

Nothing here touches the system's Postfix (/etc/postfix): `postfix -c DIR`
starts a second instance with its own queue_directory, data_directory and
log file. It never looks up DNS (`smtp_host_lookup = native`,
`disable_dns_lookups`), so next hops are loopback addresses.

The main.cf/master.cf lines each mode adds (`pipe_mode`, `lmtp_mode`,
`relay_mode`) are the ones docs/postfix.md quotes.

Postfix's own processes run as the `postfix` user and the pipe transport
runs its command as a non-root user (it refuses root), so the folders they
use must be reachable by those users: the instance and the pipe mode's
desk live in their own 0755 folders under /tmp, and `open_for` hands the
desk folder to the pipe's user.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conftest import Desk, free_port

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
POSTQUEUE = shutil.which("postqueue") or "/usr/sbin/postqueue"
SWAKS = shutil.which("swaks")
# The user the pipe transport runs `postdesk mailgate` as (pipe refuses root).
PIPE_USER = "nobody"
POSTDESK = str(Path(sys.executable).with_name("postdesk"))

# CI (`.ci/run`) installs them, and there a missing one fails the test instead.
needs_postfix = pytest.mark.skipif(
    not (Path(POSTFIX).exists() and SWAKS and os.geteuid() == 0) and not os.environ.get("CI"),
    reason="needs Debian's postfix and swaks, run as root (postfix -c DIR start)",
)


def base_main_cf(root: Path, port_note: str = "") -> list[str]:
    """main.cf of a private loopback instance: no DNS, no local delivery, fast retries."""
    return [
        "compatibility_level = 3.6",
        f"queue_directory = {root / 'queue'}",
        f"data_directory = {root / 'data'}",
        "mail_owner = postfix",
        "setgid_group = postdrop",
        f"maillog_file = {root / 'maillog'}",
        f"maillog_file_prefixes = {root}",
        "inet_interfaces = 127.0.0.1",
        "inet_protocols = ipv4",
        "myhostname = mx.desk.test",
        "mydomain = desk.test",
        "mydestination =",
        "alias_maps =",
        "alias_database =",
        "mynetworks = 127.0.0.0/8",
        # No DNS: next hops are [127.0.0.1]:port, looked up in /etc/hosts at most.
        "smtp_host_lookup = native",
        "lmtp_host_lookup = native",
        "disable_dns_lookups = yes",
        "smtp_dns_support_level = disabled",
        # Deferred mail waits for the test's `postfix flush`. A one-second backoff let
        # qmgr take the deferred mail up again while the pipe agent still held its
        # lock ("skipped, still being delivered"): the mail then sat untracked in the
        # active queue, neither deferred nor retried, and the test timed out (CI, Dec 6).
        "queue_run_delay = 300s",
        "minimal_backoff_time = 300s",
        "maximal_backoff_time = 600s",
        "smtp_connect_timeout = 5s",
        "lmtp_connect_timeout = 5s",
    ]


def base_master_cf(smtpd_port: int) -> list[str]:
    """Debian's master.cf without chroot (the temp folder has no chroot jail), smtpd on SMTPD_PORT."""
    lines = []
    for line in Path("/etc/postfix/master.cf").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        if fields[:2] == ["smtp", "inet"]:
            continue
        if not line[0].isspace() and len(fields) >= 8 and fields[4] == "y":
            fields[4] = "n"
            line = "  ".join(fields)
        lines.append(line)
    return [f"127.0.0.1:{smtpd_port}  inet  n  -  n  -  -  smtpd", *lines]


def mailgate_command(folder: Path) -> str:
    """The `postdesk` command as the pipe's user can run it.

    Normally this virtualenv's `postdesk` script. When the interpreter behind
    the virtualenv lives where that user cannot reach it (pyenv under
    root's private home), a launcher in FOLDER runs the same code — this
    virtualenv's site-packages — on the system's python of the same minor
    version; `-I -S` keeps the system's own packages out.
    """
    try:
        if subprocess.run([POSTDESK, "--version"], user=PIPE_USER, capture_output=True).returncode == 0:
            return POSTDESK
    except PermissionError:
        pass
    system_python = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not system_python.exists():
        pytest.skip(f"{PIPE_USER} cannot run {sys.executable} and there is no {system_python}")
    launcher = folder / "postdesk-launcher.py"
    launcher.write_text(
        "import site, sys\n"
        f"site.addsitedir({sysconfig.get_paths()['purelib']!r})\n"
        "from postdesk.cli.main import main\n"
        "sys.exit(main())\n"
    )
    launcher.chmod(0o644)
    return f"{system_python} -I -S {launcher}"


def pipe_mode(postdesk: str, config: Path, domain: str = "example.com") -> tuple[list[str], list[str]]:
    """(main.cf, master.cf) lines: the desk's domain goes to `postdesk mailgate` by pipe."""
    main = [
        f"relay_domains = {domain}",
        f"transport_maps = inline:{{ {domain}=postdesk: }}",
        "postdesk_destination_recipient_limit = 1",
    ]
    master = [
        "postdesk  unix  -  n  n  -  -  pipe",
        f"  flags=Rq user={PIPE_USER} argv={postdesk} --config {config} mailgate"
        " --sender ${sender} --recipient ${recipient}",
    ]
    return main, master


def lmtp_mode(lmtp_port: int, domain: str = "example.com") -> tuple[list[str], list[str]]:
    """(main.cf, master.cf) lines: the desk's domain goes to postdesk's LMTP listener."""
    main = [
        f"relay_domains = {domain}",
        f"transport_maps = inline:{{ {domain}=lmtp:inet:[127.0.0.1]:{lmtp_port} }}",
    ]
    return main, []


def relay_mode(next_hop_port: int) -> tuple[list[str], list[str]]:
    """(main.cf, master.cf) lines: everything not for us leaves via [127.0.0.1]:NEXT_HOP_PORT."""
    return [f"default_transport = smtp:[127.0.0.1]:{next_hop_port}"], []


@dataclass
class Postfix:
    """One private Postfix instance in ROOT, its smtpd on 127.0.0.1:PORT."""

    root: Path
    port: int
    main: list[str] = field(default_factory=list)
    master: list[str] = field(default_factory=list)
    running: bool = False

    @property
    def config_dir(self) -> Path:
        return self.root / "etc"

    @property
    def maillog(self) -> Path:
        return self.root / "maillog"

    def configure(self, mode: tuple[list[str], list[str]]) -> None:
        main, master = mode
        self.main += main
        self.master += master

    def write_config(self) -> None:
        self.config_dir.mkdir(exist_ok=True)
        (self.root / "queue").mkdir(exist_ok=True)
        data = self.root / "data"
        data.mkdir(exist_ok=True)
        shutil.chown(data, "postfix")
        main = base_main_cf(self.root) + self.main
        if not any(line.startswith("default_transport") for line in main):
            # Nothing leaves a test instance: mail for other domains bounces at once.
            main.append("default_transport = error:5.7.1 test instance: no mail leaves it")
        (self.config_dir / "main.cf").write_text("\n".join(main) + "\n")
        master = base_master_cf(self.port) + self.master
        (self.config_dir / "master.cf").write_text("\n".join(master) + "\n")

    def postfix(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [POSTFIX, "-c", str(self.config_dir), *args], capture_output=True, text=True, timeout=60
        )
        if result.returncode != 0:
            raise AssertionError(f"postfix {' '.join(args)} failed: {result.stderr}\n{self.log_tail()}")
        return result

    def start(self) -> None:
        self.write_config()
        self.postfix("check")
        self.postfix("start")
        self.running = True
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if "daemon started" in self.log_tail():
                try:
                    import socket

                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        raise AssertionError(f"postfix did not start:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.running:
            result = subprocess.run(
                [POSTFIX, "-c", str(self.config_dir), "stop"], capture_output=True, timeout=60
            )
            if result.returncode != 0:
                subprocess.run([POSTFIX, "-c", str(self.config_dir), "abort"], capture_output=True)
            self.running = False

    def flush(self) -> None:
        """`postfix flush`: try every deferred mail now."""
        self.postfix("flush")

    def queue(self) -> list[dict[str, Any]]:
        """The mail in Postfix's queue (postqueue -j): queue_name, recipients with delay_reason."""
        out = subprocess.run(
            [POSTQUEUE, "-c", str(self.config_dir), "-j"], capture_output=True, text=True, timeout=60
        ).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def swaks(self, raw: bytes, sender: str, recipient: str) -> str:
        """Send RAW into Postfix's smtpd with swaks; returns swaks' transcript."""
        assert SWAKS is not None
        result = subprocess.run(
            [
                SWAKS,
                "--server",
                f"127.0.0.1:{self.port}",
                "--from",
                sender,
                "--to",
                recipient,
                "--data",
                "-",
                "--suppress-data",
            ],
            input=raw,
            capture_output=True,
            timeout=60,
        )
        transcript = result.stdout.decode(errors="replace")
        if result.returncode != 0:
            raise AssertionError(f"swaks exited {result.returncode}:\n{transcript}{result.stderr.decode()}")
        return transcript

    def wait_until(self, check: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}\n--- maillog ---\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        return self.maillog.read_text(errors="replace")[-chars:] if self.maillog.exists() else ""

    def delivered(self, recipient: str, relay_part: str) -> bool:
        """Whether the log shows RECIPIENT delivered (status=sent) via a relay naming RELAY_PART."""
        return (
            any(
                f"to=<{recipient}>" in line and "status=sent" in line and relay_part in line
                for line in self.maillog.read_text(errors="replace").splitlines()
            )
            if self.maillog.exists()
            else False
        )


@pytest.fixture
def make_postfix() -> Iterator[Callable[[], Postfix]]:
    """Build private Postfix instances (started by the test), stopped and removed at teardown."""
    made: list[Postfix] = []

    def build() -> Postfix:
        root = Path(tempfile.mkdtemp(prefix="postdesk-postfix-", dir="/tmp"))
        # Postfix's daemons run as `postfix` and must reach their queue and data folders.
        root.chmod(0o755)
        instance = Postfix(root=root, port=free_port())
        made.append(instance)
        return instance

    yield build
    for instance in made:
        instance.stop()
        shutil.rmtree(instance.root, ignore_errors=True)


@pytest.fixture
def make_shared_desk(make_desk: Callable[..., Desk]) -> Iterator[Callable[..., Desk]]:
    """Like make_desk, but in a folder of its own under /tmp that other users can reach.

    pytest's temporary folders are private to root (and pytest re-privatises
    them whenever any session starts), so the pipe transport's user could
    not read the desk's config there.
    """
    made: list[Desk] = []

    def build(settings: dict[str, Any] | None = None) -> Desk:
        template = make_desk(settings, name=f"template-{len(made)}")
        folder = Path(tempfile.mkdtemp(prefix="postdesk-desk-", dir="/tmp"))
        folder.chmod(0o755)
        moved = json.loads(json.dumps(template.settings).replace(str(template.root), str(folder)))
        desk = Desk(root=folder, settings=moved, port=template.port)
        desk.write_config()
        made.append(desk)
        return desk

    yield build
    for desk in made:
        desk.close()
        shutil.rmtree(desk.root, ignore_errors=True)


def open_for(path: Path, user: str = PIPE_USER) -> None:
    """Hand the desk folder PATH, with its database, to USER (the pipe transport's user)."""
    account = pwd.getpwnam(user)
    for dirpath, _dirs, files in os.walk(path):
        os.chown(dirpath, account.pw_uid, account.pw_gid)
        for name in files:
            os.chown(os.path.join(dirpath, name), account.pw_uid, account.pw_gid)
