"""Start-up: a command imports what it runs, and the pipe hook's lean writer
stores exactly the rows the ORM would.

No timings here (bench/startup.py measures them); these tests guard what a
start imports, which is what the timings follow from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from sqlalchemy import select

from conftest import make_mail
from postdesk.cli.lazy import LazyGroup
from postdesk.cli.main import main
from postdesk.receive.spool import Received, spool_messages
from postdesk.store.migrate import upgrade
from postdesk.store.models import Inbound, InboundRaw
from postdesk.store.pipe_spool import PipeSpoolFailed, PipeSpoolUnsupported, spool_one
from postdesk.store.session import open_store

# What storing one piped mail must not load: the pipeline and what it uses
# (templates, dedupe, agents), the ORM (the lean writer needs the driver
# only), the heavy libraries of other commands, and the settings model
# (pydantic was two thirds of what was left; config/pipe.py reads mailgate's
# few keys without it).
NOT_FOR_MAILGATE = (
    "pydantic",
    "postdesk.config.model",
    "postdesk.pipeline",
    "postdesk.templates",
    "postdesk.dedupe",
    "postdesk.agents",
    "postdesk.runtime.desk",
    "postdesk.store.models",
    "sqlalchemy",
    "alembic",
    "jinja2",
    "numpy",
    "bm25s",
    "matplotlib",
    "rapidfuzz",
    "phonenumbers",
)
# `postdesk --help` lists every command and needs none of them.
NOT_FOR_HELP = (*NOT_FOR_MAILGATE, "postdesk.config", "postdesk.cli.run", "postdesk.cli.tickets")

LOADED = """
import json, sys
from postdesk.cli.main import main
try:
    main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.__stderr__)
"""


def imported_by(args: list[str], *, stdin: bytes = b"", cwd: Path) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", LOADED, *args], input=stdin, capture_output=True, cwd=cwd, check=True
    )
    return set(json.loads(result.stderr.decode().strip().splitlines()[-1]))


def loaded_of(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(name for name in modules if any(name == f or name.startswith(f + ".") for f in forbidden))


def test_mailgate_stores_without_the_pipeline_or_the_orm(tmp_path: Path, databases) -> None:
    url = databases.url(tmp_path, "gate")
    store = open_store(url)
    upgrade(store)
    config = tmp_path / "postdesk.toml"
    config.write_text(f'[store]\nurl = "{url}"\n')
    modules = imported_by(
        ["--config", str(config), "mailgate", "--recipient", "support@example.com"],
        stdin=make_mail().as_bytes(),
        cwd=tmp_path,
    )
    assert "postdesk.store.pipe_spool" in modules
    assert loaded_of(modules, NOT_FOR_MAILGATE) == []
    with store.read() as session:
        assert session.scalar(select(Inbound.via)) == "mailgate"
    store.dispose()


def test_help_imports_no_command(tmp_path: Path) -> None:
    modules = imported_by(["--help"], cwd=tmp_path)
    assert loaded_of(modules, NOT_FOR_HELP) == []


# A worker with nothing to index or migrate: bm25s and numpy come with FAQ
# entries, Alembic with `--migrate`; most of a `process --once` start else.
NOT_FOR_AN_EMPTY_WORKER = ("bm25s", "numpy", "Stemmer", "alembic", "matplotlib")


def test_a_worker_on_an_empty_desk_loads_no_index_or_migrations(tmp_path: Path, databases) -> None:
    url = databases.url(tmp_path, "worker")
    store = open_store(url)
    upgrade(store)
    store.dispose()
    config = tmp_path / "postdesk.toml"
    config.write_text(f'[store]\nurl = "{url}"\n')
    modules = imported_by(["--config", str(config), "process", "--once"], cwd=tmp_path)
    assert "postdesk.pipeline.worker" in modules
    assert loaded_of(modules, NOT_FOR_AN_EMPTY_WORKER) == []


def lazy_entries(group: click.Group, path: str = "postdesk") -> list[tuple[str, str, click.Command]]:
    found = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, f"{path} {name} does not load"
        if isinstance(group, LazyGroup) and name in group.lazy:
            found.append((f"{path} {name}", group.lazy[name].summary, command))
        if isinstance(command, click.Group):
            found += lazy_entries(command, f"{path} {name}")
    return found


def test_every_listed_command_loads_and_its_help_line_is_its_own() -> None:
    """The line `--help` shows without importing a command is the command's own first sentence."""
    entries = lazy_entries(main)
    assert len(entries) > 20
    for path, summary, command in entries:
        assert summary == command.get_short_help_str(10_000), path


def test_lean_writer_stores_the_rows_the_orm_stores(tmp_path: Path, databases) -> None:
    url = databases.url(tmp_path, "rows")
    store = open_store(url)
    upgrade(store)
    when = datetime(2026, 12, 7, 15, 30, 12, 345678, tzinfo=UTC)
    raw = make_mail(body="Grüße\r\n" + "x" * 70_000).as_bytes() + b"\xff\x00 binary tail"
    recipients = ("support@example.com", "Sales+Tag@Example.com")
    [by_orm] = spool_messages(store, [Received(raw, "mailgate", "kim@customer.example", recipients)], when)
    by_driver = spool_one(
        url, raw, via="mailgate", envelope_from="kim@customer.example", recipients=recipients, now=when
    )
    bare = spool_one(url, b"x", via="mailgate", envelope_from=None, recipients=(), now=when)
    assert by_driver == by_orm + 1 and bare == by_driver + 1

    def row(inbound_id: int) -> dict[str, object]:
        with store.read() as session:
            inbound = session.get(Inbound, inbound_id)
            assert inbound is not None
            stored = session.get(InboundRaw, inbound_id)
            assert stored is not None
            values = {c.name: getattr(inbound, c.name) for c in Inbound.__table__.columns if c.name != "id"}
            return values | {"raw": stored.raw}

    assert row(by_driver) == row(by_orm)
    assert row(by_driver)["received_at"] == when and row(by_driver)["raw"] == raw
    assert row(bare)["envelope_from"] is None and row(bare)["recipients"] == []
    store.dispose()


def test_lean_writer_refuses_what_it_cannot_store(tmp_path: Path) -> None:
    with pytest.raises(PipeSpoolFailed, match="does not exist"):
        spool_one(
            f"sqlite:///{tmp_path}/missing/desk.db", b"x", via="mailgate", envelope_from=None, recipients=()
        )
    with pytest.raises(PipeSpoolFailed, match="no such table"):
        spool_one(f"sqlite:///{tmp_path}/empty.db", b"x", via="mailgate", envelope_from=None, recipients=())
    with pytest.raises(PipeSpoolUnsupported):
        spool_one("mysql://db/desk", b"x", via="mailgate", envelope_from=None, recipients=())
