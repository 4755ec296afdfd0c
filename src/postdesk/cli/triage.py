"""Commands of triage, escalation and figures: `triage explain`, `triage rules`, `tickets escalate`,
`stats`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select

from postdesk.cli.kit import Context, fail, pass_context, print_json
from postdesk.core.hours import parse_duration
from postdesk.reports.stats import collect as collect_figures
from postdesk.store.models import TriageEvent
from postdesk.store.queries import ticket_detail


@click.group("triage")
def triage_group() -> None:
    """How tickets were routed and prioritised."""


@triage_group.command("explain")
@click.argument("number", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_context
def triage_explain(ctx: Context, number: int, as_json: bool) -> None:
    """Which address and rules decided a ticket's queue, priority, level and due time."""
    with ctx.store().transaction() as session:
        detail = ticket_detail(session, number)
        events = session.execute(
            select(TriageEvent).where(TriageEvent.ticket_id == number).order_by(TriageEvent.id)
        ).scalars()
        steps = [
            {"created_at": e.created_at.isoformat(), "step": e.step, "name": e.name, "detail": e.detail}
            for e in events
        ]
    if detail is None:
        fail(f"no ticket {number}")
    fields = ("number", "subject", "priority", "queue", "level", "first_response_due", "overdue")
    explained = {key: detail[key] for key in fields} | {"steps": steps}
    if as_json:
        print_json(explained)
        return
    zone = ctx.settings.queue(explained["queue"]).business_hours().timezone
    due = _local(explained["first_response_due"], zone) if explained["first_response_due"] else "none"
    click.echo(f"Ticket {explained['number']}: {explained['subject']}")
    click.echo(
        f"  priority {explained['priority']}, queue {explained['queue']}, level {explained['level']}, "
        f"first answer due {due}{' (OVERDUE)' if explained['overdue'] else ''}"
    )
    if not steps:
        click.echo("  no triage recorded (the ticket is older than triage)")
        return
    click.echo(f"\n{'WHEN':<20}  {'STEP':<9}  {'NAME':<20}  DETAIL")
    for step in steps:
        when = _local(step["created_at"], zone)
        click.echo(f"{when:<20}  {step['step']:<9}  {step['name'][:20]:<20}  {step['detail']}")


@triage_group.command("rules")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@pass_context
def triage_rules(ctx: Context, as_json: bool) -> None:
    """The rules triage reads, top-down, and where each comes from (built-in or the config file)."""
    from postdesk.triage.defaults import CONFIG, effective_rules

    config = str(ctx.config_path) if ctx.config_path else "environment"
    rules: list[dict[str, Any]] = [
        {
            "name": sourced.rule.name,
            "source": sourced.source,
            "file": config if sourced.source == CONFIG else "",
            "match": sourced.rule.match.model_dump(exclude_defaults=True),
            "set": sourced.rule.set.model_dump(exclude_defaults=True),
        }
        for sourced in effective_rules(ctx.settings.triage)
    ]
    if as_json:
        print_json(rules)
        return
    if not rules:
        click.echo("no triage rules ([triage] default_rules = false and none in the config)")
        return
    for rule in rules:
        where = f"config {rule['file']}" if rule["file"] else rule["source"]
        effect = ", ".join(f"{key} {value}" for key, value in rule["set"].items())
        click.echo(f"{rule['name']}  ({where})  → {effect or 'nothing'}")
        for key, value in rule["match"].items():
            shown = ", ".join(f'"{v}"' for v in value) if isinstance(value, list | tuple) else f"/{value}/"
            click.echo(f"    {key}: {shown}")


def _local(iso: str, zone: ZoneInfo) -> str:
    return f"{datetime.fromisoformat(iso).astimezone(zone):%Y-%m-%d %H:%M %Z}"


@click.command("escalate")
@click.argument("number", type=int)
@click.option("--reason", default="", help="Why; goes into the agents' notification.")
@pass_context
def tickets_escalate(ctx: Context, number: int, reason: str) -> None:
    """Move a ticket to the next support level and notify that level's agents by mail."""
    from postdesk.agents.escalation import EscalationError, escalate  # mails agents: the desk's templates

    desk = ctx.desk()
    try:
        with desk.store.transaction() as session:
            done = escalate(
                session, desk.settings, desk.templates, number, datetime.now(UTC), reason=reason, by="cli"
            )
    except EscalationError as error:
        fail(str(error))
    told = ", ".join(done.notified) if done.notified else "nobody: no agent works there"
    click.echo(f"ticket {number}: level {done.level} in queue {done.queue}; notified {told}")


@click.command("stats")
@click.option(
    "--since", default="30d", show_default=True, help="A duration back from now (30d, 12h, 2w) or a date."
)
@click.option("--queue", help="Only this queue (its timezone for days and hours).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.option(
    "--plot", type=click.Path(dir_okay=False, path_type=Path), help="Also draw a chart (e.g. stats.png)."
)
@pass_context
def stats(ctx: Context, since: str, queue: str | None, as_json: bool, plot: Path | None) -> None:
    """Volume, response and resolution times, SLA breaches and backlog."""
    settings = ctx.settings
    zone = ZoneInfo(settings.queue(queue).timezone if queue else settings.triage.timezone)
    now = datetime.now(UTC)
    try:
        start = _since(since, now, zone)
    except ValueError as error:
        fail(f"--since: {error}")
    with ctx.store().transaction() as session:
        figures = collect_figures(session, since=start, until=now, timezone=zone, queue=queue)
    if plot is not None:
        from postdesk.reports.plot import plot as draw  # matplotlib loads only when a chart is wanted

        click.echo(f"drawing {plot}", err=True)
        draw(figures, plot)
    if as_json:
        print_json(figures)
    else:
        _print_figures(figures)


def _since(text: str, now: datetime, zone: ZoneInfo) -> datetime:
    """A duration back from NOW ("30d"), or the start of a day in ZONE ("2026-11-01")."""
    try:
        return datetime.combine(date.fromisoformat(text), time(0), tzinfo=zone).astimezone(UTC)
    except ValueError:
        pass
    try:
        return now - parse_duration(text)
    except ValueError:
        raise ValueError(
            f"expected a duration such as 30d, 12h, 2w or a date such as 2026-11-01, got {text!r}"
        ) from None


def _print_figures(figures: dict) -> None:
    where = f" in queue {figures['queue']}" if figures["queue"] else ""
    click.echo(
        f"{figures['tickets']} new tickets{where}, {figures['since'][:16]} to {figures['until'][:16]} UTC"
    )
    busiest = max(range(24), key=lambda hour: figures["per_hour"][hour])
    if figures["tickets"]:
        click.echo(f"busiest hour of day: {busiest:02d}:00 ({figures['timezone']})")
    click.echo(
        f"\n{'QUEUE':<12} {'PRIORITY':<8} {'TICKETS':>7}  {'FIRST RESPONSE h (median/mean/p90)':<36}"
        f"{'UNANSWERED':>10}  {'RESOLUTION h (median)':>21}  {'SLA BREACHED':>12}"
    )
    for row in [{"queue": "all", "priority": "", **figures["overall"]}, *figures["by_queue_priority"]]:
        first, resolved = row["first_response"], row["resolution"]
        times = "/".join(_hours(first[key]) for key in ("median_hours", "mean_hours", "p90_hours"))
        breached = f"{row['sla']['breached']}/{row['sla']['with_due']}"
        click.echo(
            f"{row['queue'][:12]:<12} {row['priority']:<8} {row['tickets']:>7}  {times:<36}"
            f"{row['unanswered']:>10}  {_hours(resolved['median_hours']):>21}  {breached:>12}"
        )
    backlog = figures["backlog"]
    click.echo(
        f"\nbacklog now: {backlog['open']} open, {backlog['pending']} pending, {backlog['overdue']} overdue; "
        f"duplicates merged: {figures['duplicates_merged']}; voicemails: {figures['voicemails']}"
    )


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
