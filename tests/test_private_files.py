"""Files only the desk can read (issue 17.4): what the real commands create
under the usual umask 022 is 0600 (folders 0700), and `serve` names a file
an older version left readable by everyone."""

from __future__ import annotations

import grp
import os
import shutil
import smtplib
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import postdesk
from conftest import Desk, free_port, make_mail
from ops_support import require_sqlite
from postfix_support import make_shared_desk

__all__ = ["make_shared_desk"]  # a fixture, imported for pytest


@contextmanager
def umask(mask: int) -> Iterator[None]:
    """The commands run as subprocesses, which inherit the test process's umask."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> str:
    return f"{stat.S_IMODE(path.stat().st_mode):04o}"


def modes_under(*roots: Path) -> dict[str, str]:
    found = {}
    for root in roots:
        found[str(root)] = mode(root)
        for path in root.rglob("*"):
            found[str(path)] = mode(path)
    return found


@pytest.fixture
def public_folder() -> Iterator[Path]:
    """A folder every user can read (pytest's own are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="postdesk-gate-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def private_desk(make_desk: Callable[..., Desk]) -> Desk:
    """A desk whose database file and outbox do not exist yet: postdesk creates them.
    The database's folder is the operator's (systemd's StateDirectory): postdesk
    refuses a missing one, so that a mistyped URL grows no folders."""
    desk = make_desk()
    require_sqlite(desk)
    (desk.root / "state").mkdir(mode=0o700)
    desk.settings["store"]["url"] = f"sqlite:///{desk.root / 'state' / 'postdesk.db'}"
    desk.settings["outbound"]["transport"] = f"maildir:{desk.root / 'spool' / 'outbox'}"
    desk.write_config()
    desk.config.chmod(0o600)
    return desk


def test_commands_create_only_private_files_under_umask_022(make_desk: Callable[..., Desk]) -> None:
    desk = private_desk(make_desk)
    state, outbox = desk.root / "state", desk.root / "spool" / "outbox"
    with umask(0o022):
        desk.run("db", "upgrade")
        assert (mode(state), mode(state / "postdesk.db")) == ("0700", "0600")
        stored = desk.run(
            "mailgate",
            "--sender",
            "kim@customer.example",
            "--recipient",
            "support@example.com",
            input=make_mail().as_bytes(),
        )
        assert b"stored as inbound" in stored.stderr
        desk.run("process", "--once")
        desk.run("send", "--once")
        assert [p.name for p in (outbox / "new").iterdir()], "the acknowledgement was written"
        assert mode(outbox) == "0700"

        # serve holds the database open: its -wal and -shm are there to look at.
        desk.start()
        desk.send(make_mail(subject="Noch eine Frage"))
        desk.wait_until(lambda: len(list((outbox / "new").iterdir())) == 2, what="the 2nd acknowledgement")
        wal, shm = state / "postdesk.db-wal", state / "postdesk.db-shm"
        assert wal.exists() and shm.exists()
        found = modes_under(state, desk.root / "spool")
        desk.stop()
    folders = {path for path in found if Path(path).is_dir()}
    assert {path: m for path, m in found.items() if path in folders and m != "0700"} == {}
    assert {path: m for path, m in found.items() if path not in folders and m != "0600"} == {}
    assert "readable by every local user" not in desk.log.read_text()


def test_serve_warns_once_about_a_database_and_config_others_can_read(make_desk: Callable[..., Desk]) -> None:
    desk = private_desk(make_desk)
    database = desk.root / "state" / "postdesk.db"
    desk.run("db", "upgrade")
    database.chmod(0o644)  # as an older postdesk made it under umask 022
    desk.config.chmod(0o644)
    desk.start()
    desk.send(make_mail())
    new = desk.root / "spool" / "outbox" / "new"
    desk.wait_until(lambda: new.is_dir() and list(new.iterdir()), what="the acknowledgement")
    desk.stop()
    lines = [line for line in desk.log.read_text().splitlines() if "readable by every local user" in line]
    # Opening the 0644 database made its -wal and -shm 0644 too (SQLite copies the mode): named as well.
    named = {line.split(": ", 1)[1].split(" is readable")[0] for line in lines}
    files = {str(desk.config), str(database), f"{database}-wal", f"{database}-shm"}
    assert named == files and len(lines) == len(files), lines
    assert any(f"{database} is readable by every local user (mode 0644)" in line for line in lines)
    assert all(line.endswith(f"`chmod o-rwx {line.split(': ', 1)[1].split(' is ')[0]}`") for line in lines)


def test_mailgate_as_a_pipe_user_in_the_spool_group_writes_and_others_cannot_read(
    make_shared_desk: Callable[..., Desk], public_folder: Path
) -> None:
    """The group setup of docs/deploy.md: the MTA's pipe user (here `nobody`) is
    in the desk's group, the spool folder is setgid 2770, the database 0660,
    the config 0640; a user outside the group reads none of it."""
    if os.geteuid() != 0:
        pytest.skip("switching to the pipe user needs root")
    group = grp.getgrnam("mail").gr_gid  # stands in for the `postdesk` group of a real install
    desk = make_shared_desk()
    require_sqlite(desk)
    spool = desk.root / "spool"
    database = spool / "postdesk.db"
    desk.settings["store"]["url"] = f"sqlite:///{database}"
    desk.write_config()
    spool.mkdir()  # the operator's folder (postdesk makes no folder for its store)
    desk.run("db", "upgrade")
    for path, mode_bits in ((desk.root, 0o710), (spool, 0o2770), (database, 0o660), (desk.config, 0o640)):
        os.chown(path, 0, group)
        path.chmod(mode_bits)

    command = [
        *pipe_user_postdesk(public_folder),
        "--config",
        str(desk.config),
        "mailgate",
        "--sender",
        "kim@customer.example",
        "--recipient",
        "support@example.com",
    ]
    mail = make_mail().as_bytes()
    with umask(0o022):
        member = as_nobody(command, mail, groups=[group])
        stranger = as_nobody(command, mail, groups=[])
        peek = as_nobody(["cat", str(database)], b"", groups=[])
    assert member.returncode == 0, member.stderr.decode()
    assert stranger.returncode == 75, stranger.stderr.decode()  # the MTA keeps the mail and retries
    assert peek.returncode != 0 and b"Permission denied" in peek.stderr
    assert mode(database) == "0660"
    desk.run("process", "--once")
    assert desk.json("tickets", "list")[0]["subject"] == "Hilfe beim Login"


def as_nobody(command: list[str], stdin: bytes, groups: list[int]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        command, input=stdin, capture_output=True, user="nobody", group="nogroup",
        extra_groups=groups, cwd="/", timeout=60,
    )  # fmt: skip


def pipe_user_postdesk(folder: Path) -> list[str]:
    """`postdesk` as the pipe user can run it: this test's code on the system python.

    The virtualenv's interpreter lives under root's private home here; a
    launcher in FOLDER puts the postdesk this test imported, and the
    virtualenv's packages, on the system python of the same version.
    """
    system_python = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not system_python.exists():
        pytest.skip(f"no {system_python} for the pipe user")
    launcher = folder / "postdesk-gate.py"
    launcher.write_text(
        "import site, sys\n"
        f"sys.path.insert(0, {str(Path(postdesk.__file__).parents[1])!r})\n"
        f"site.addsitedir({sysconfig.get_paths()['purelib']!r})\n"
        "from postdesk.cli.main import main\n"
        "sys.exit(main())\n"
    )
    launcher.chmod(0o644)
    return [str(system_python), "-I", "-S", str(launcher)]


def test_make_run_defaults_make_private_files_under_umask_022(tmp_path: Path) -> None:
    """`make run` in a fresh folder: no config, the database and the outbox beside it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTDESK_")}
    env |= {"POSTDESK_INGEST__SMTP__PORT": str(port), "POSTDESK_PIPELINE__POLL_SECONDS": "0.2"}
    log = (tmp_path / "serve.log").open("wb")
    with umask(0o022):
        serve = subprocess.Popen(
            [sys.executable, "-m", "postdesk", "serve"], cwd=tmp_path, env=env, stdout=log, stderr=log
        )
    try:
        deadline, sent = time.monotonic() + 60, False
        new = tmp_path / "outbox" / "new"
        while not (new.is_dir() and list(new.iterdir())):
            assert time.monotonic() < deadline and serve.poll() is None, (tmp_path / "serve.log").read_text()
            if not sent:
                try:
                    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                        client.sendmail(
                            "kim@customer.example", ["support@example.com"], make_mail().as_bytes()
                        )
                    sent = True
                except OSError:  # not listening yet
                    pass
            time.sleep(0.2)
        found = {
            name: mode(tmp_path / name) for name in ("postdesk.db", "postdesk.db-wal", "postdesk.db-shm")
        }
        found |= {str(path.relative_to(tmp_path)): mode(path) for path in (tmp_path / "outbox").rglob("*")}
        found["outbox"] = mode(tmp_path / "outbox")
    finally:
        serve.terminate()
        serve.wait(timeout=30)
        log.close()
    wrong = {name: m for name, m in found.items() if m != ("0700" if (tmp_path / name).is_dir() else "0600")}
    assert wrong == {}, found
