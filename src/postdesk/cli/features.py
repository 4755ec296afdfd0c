"""`postdesk tickets mark-feature` and `features list|set`: what customers ask to be built."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from postdesk.cli.kit import Context, fail, pass_context, print_json
from postdesk.features.requests import STATUSES as FEATURE_STATUSES
from postdesk.features.requests import FeatureError, list_features, mark_feature, set_feature


@click.command("mark-feature")
@click.argument("number", type=int)
@click.option("--to", "request_id", type=int, help="Count it for this feature request (also: move it there).")
@click.option("--new", is_flag=True, help="Count it as a new request of its own (also: split it off).")
@pass_context
def tickets_mark_feature(ctx: Context, number: int, request_id: int | None, new: bool) -> None:
    """Count a ticket as a feature request: joining the most similar earlier one, else a new one."""
    if request_id is not None and new:
        fail("give --to or --new, not both")
    desk = ctx.desk()
    threshold = desk.settings.features.similarity
    try:
        with desk.store.transaction() as session:
            marked = mark_feature(
                session, number, datetime.now(UTC), threshold, by="cli", request_id=request_id, new=new
            )
    except FeatureError as error:
        fail(str(error))
    click.echo(f"ticket {number}: {marked.sentence()}")


@click.group("features")
def features_group() -> None:
    """Feature requests customers asked for, and how often."""


@features_group.command("list")
@click.option("--status", type=click.Choice(FEATURE_STATUSES), help="Only requests in this status.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_context
def features_list(ctx: Context, status: str | None, as_json: bool) -> None:
    """Feature requests, most asked first."""
    with ctx.store().transaction() as session:
        rows = list_features(session, status)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no feature requests")
        return
    click.echo(f"{'ID':>4}  {'ASKED':>5}  {'STATUS':<8}  TITLE")
    for row in rows:
        click.echo(f"{row['id']:>4}  {row['count']:>5}  {row['status']:<8}  {row['title'][:70]}")
        if row["reason"]:
            click.echo(f"{'':>4}  {'':>5}  {'':<8}  reason: {row['reason']}")


@features_group.command("set")
@click.argument("request_id", type=int)
@click.option("--status", type=click.Choice(FEATURE_STATUSES), help="New status.")
@click.option("--reason", help="Why (needed for rejected); agents quote it to customers.")
@click.option("--title", help="A better title.")
@pass_context
def features_set(
    ctx: Context, request_id: int, status: str | None, reason: str | None, title: str | None
) -> None:
    """Change a feature request's status, reason or title."""
    if status is None and reason is None and title is None:
        fail("nothing to change: give --status, --reason or --title")
    try:
        with ctx.store().transaction() as session:
            request = set_feature(
                session, request_id, datetime.now(UTC), status=status, reason=reason, title=title
            )
            said = f"feature request {request.id} {request.title!r}: {request.status}"
            said += f" ({request.reason})" if request.reason else ""
    except FeatureError as error:
        fail(str(error))
    click.echo(said)
