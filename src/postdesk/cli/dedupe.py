"""The dedupe commands: `dedupe explain|replay`, `clusters list|show|reply|remove`, `tickets unmerge`."""

from __future__ import annotations

import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from postdesk.cli.kit import Context, fail, pass_context, print_json
from postdesk.config.model import DedupeRule, DedupeSettings
from postdesk.core.hours import parse_duration
from postdesk.dedupe.clusters import (
    ClusterError,
    ReplyDesk,
    cluster_detail,
    list_clusters,
    remove_from_cluster,
    reply_to_cluster,
)
from postdesk.dedupe.explain import ExplainError, explain, explain_lines
from postdesk.dedupe.replay import evaluate, load_eval_set, replay_history
from postdesk.pipeline.env import StageEnv
from postdesk.pipeline.unmerge import UndoError, unmerge
from postdesk.templates.render import TemplateMissing


@click.group("dedupe")
def dedupe_group() -> None:
    """Duplicate submissions: why a mail was merged or clustered, and trying other rules."""


@dedupe_group.command("explain")
@click.argument("item_id", type=int)
@click.option("--ticket", "kind", flag_value="ticket", help="ITEM_ID is a ticket number.")
@click.option("--message", "kind", flag_value="message", help="ITEM_ID is a message id.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_context
def dedupe_explain(ctx: Context, item_id: int, kind: str | None, as_json: bool) -> None:
    """The candidates a mail was compared with, each score, and the rule that decided.

    ITEM_ID is a ticket number (all its mail) or a message id (`tickets show --json`).
    """
    with ctx.store().read() as session:
        try:
            report = explain(session, item_id, kind or "auto")
        except ExplainError as error:
            fail(str(error))
    if as_json:
        print_json(report)
        return
    for line in explain_lines(report):
        click.echo(line)


def read_rules(path: Path) -> tuple[DedupeRule, ...]:
    """Rules from a file: ``[[dedupe.rules]]`` as in the config, or top-level ``[[rules]]``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        fail(f"{path}: cannot read: {error.strerror}")
    except tomllib.TOMLDecodeError as error:
        fail(f"{path}: not valid TOML: {error}")
    section: Any = data.get("dedupe", data)
    if not isinstance(section, dict) or "rules" not in section:
        fail(f"{path}: no [[dedupe.rules]] (or [[rules]]) in this file")
    try:
        return DedupeSettings.model_validate({"rules": section["rules"]}).rules
    except ValidationError as error:
        problem = error.errors()[0]
        fail(f"{path}: [[dedupe.rules]]: {problem['msg'].removeprefix('Value error, ')}")


@dedupe_group.command("replay")
@click.option(
    "--rules",
    "rules_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file with [[dedupe.rules]] to try.",
)
@click.option("--since", default="30d", show_default=True, help="How far back: '72h', '30d', '2w'.")
@click.option(
    "--eval-set",
    "eval_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also score the rules on a labelled evaluation set (JSON lines, tests/data/dedupe/eval.jsonl).",
)
@click.option("--limit", default=50, show_default=True, help="Show at most this many changed decisions.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_context
def dedupe_replay(
    ctx: Context, rules_path: Path, since: str, eval_path: Path | None, limit: int, as_json: bool
) -> None:
    """Re-decide stored mail with other rules and show what would change. Changes nothing.

    Precision and recall are counted against what agents corrected (a merge
    or cluster nobody undid counts as right, an unmerge or a removal from a
    cluster as wrong) and, with --eval-set, against its labels per rule.
    """
    rules = read_rules(rules_path)
    try:
        start = datetime.now(UTC) - parse_duration(since)
    except ValueError as error:
        fail(f"--since: {error}")
    with (
        ctx.store().read() as session,
        click.progressbar(length=0, label="replaying", file=sys.stderr) as bar,
    ):

        def progress(rows: Any) -> Any:
            bar.length = len(rows)
            for row in rows:
                yield row
                bar.update(1)

        history = replay_history(session, rules, start, progress)
    report: dict[str, Any] = {
        "since": start.isoformat(),
        "examined": history.examined,
        "merges_added": history.merges_added,
        "merges_removed": history.merges_removed,
        "clusters_changed": history.clusters_changed,
        "history": {
            "precision": round(history.precision, 4),
            "recall": round(history.recall, 4),
            "right": history.true_positives,
            "wrong": history.false_positives,
            "missed": history.false_negatives,
        },
        "changes": [
            {"message": c.message_row_id, "before": c.before, "after": c.after} for c in history.changes
        ],
    }
    if eval_path is not None:
        mails = load_eval_set(eval_path)
        with click.progressbar(rules, label="evaluation set", file=sys.stderr) as rule_bar:
            quality = [q for rule in rule_bar for q in evaluate(mails, [rule], ctx.settings.desk.ticket_tag)]
        report["evaluation"] = [
            {
                "rule": q.rule,
                "action": q.action,
                "precision": round(q.precision, 4),
                "recall": round(q.recall, 4),
                "right": q.true_positives,
                "wrong": q.false_positives,
                "missed": q.false_negatives,
            }
            for q in quality
        ]
    if as_json:
        print_json(report)
        return
    click.echo(f"replayed {history.examined} mail(s) since {start:%Y-%m-%d %H:%M} UTC with {rules_path}")
    click.echo(
        f"merges added {history.merges_added}, merges removed {history.merges_removed}, "
        f"cluster decisions changed {history.clusters_changed}"
    )
    for change in history.changes[:limit]:
        click.echo(f"  message {change.message_row_id}: {change.before} -> {change.after}")
    if len(history.changes) > limit:
        click.echo(f"  … and {len(history.changes) - limit} more (--limit)")
    h = report["history"]
    click.echo(
        f"against corrections: precision {h['precision']:.3f}, recall {h['recall']:.3f} "
        f"(right {h['right']}, wrong {h['wrong']}, missed {h['missed']})"
    )
    for q in report.get("evaluation", []):
        click.echo(
            f"evaluation set, rule {q['rule']} ({q['action']}): precision {q['precision']:.3f}, "
            f"recall {q['recall']:.3f} (right {q['right']}, wrong {q['wrong']}, missed {q['missed']})"
        )
    click.echo("nothing was changed")


@click.group("clusters")
def clusters_group() -> None:
    """Incident clusters: tickets of different customers about the same thing."""


@clusters_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_context
def clusters_list(ctx: Context, as_json: bool) -> None:
    """Clusters, most recently grown first."""
    with ctx.store().read() as session:
        rows = list_clusters(session)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no clusters")
        return
    click.echo(f"{'ID':>5}  {'TICKETS':>7}  {'OPEN':>4}  {'UPDATED':<16}  TITLE")
    for row in rows:
        updated = datetime.fromisoformat(row["updated_at"])
        click.echo(
            f"{row['id']:>5}  {row['tickets']:>7}  {row['open_tickets']:>4}  {updated:%Y-%m-%d %H:%M}  "
            f"{row['title'][:70]}"
        )


@clusters_group.command("show")
@click.argument("cluster_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@pass_context
def clusters_show(ctx: Context, cluster_id: int, as_json: bool) -> None:
    """One cluster with its tickets."""
    with ctx.store().read() as session:
        try:
            detail = cluster_detail(session, cluster_id)
        except ClusterError as error:
            fail(str(error))
    if as_json:
        print_json(detail)
        return
    click.echo(
        f"Cluster {detail['id']}: {detail['title']} ({len(detail['tickets'])} tickets, rule {detail['rule']})"
    )
    for t in detail["tickets"]:
        score = f"{t['score']:.0f}" if t["score"] is not None else "-"
        click.echo(
            f"  {t['number']:>8}  {t['status']:<7}  score {score:>3}  {t['customer'][:30]:<30}  "
            f"{t['subject'][:60]}"
        )


@clusters_group.command("reply")
@click.argument("cluster_id", type=int)
@click.option("--template", help="Template name (e.g. cluster_reply), rendered per ticket in its language.")
@click.option(
    "--body-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Plain-text file sent as the body to every ticket.",
)
@pass_context
def clusters_reply(ctx: Context, cluster_id: int, template: str | None, body_file: Path | None) -> None:
    """Answer every ticket in the cluster: each customer gets the mail in their own ticket's thread."""
    if (template is None) == (body_file is None):
        fail("give exactly one of --template NAME or --body-file FILE")
    body = body_file.read_text(encoding="utf-8") if body_file is not None else None
    if body is not None and not body.strip():
        fail(f"{body_file}: the body is empty")
    desk = ctx.desk()
    settings = desk.settings
    reply_desk = ReplyDesk(
        name=settings.desk.name,
        address=settings.desk.address,
        ticket_tag=settings.desk.ticket_tag,
        envelope_from=settings.outbound.envelope_from or settings.desk.address,
        secret=desk.secret,
        templates=desk.templates,
    )
    with desk.store.transaction() as session:
        try:
            answered = reply_to_cluster(
                session, cluster_id, reply_desk, datetime.now(UTC), template=template, body=body
            )
        except (ClusterError, TemplateMissing) as error:
            fail(str(error))
    click.echo(
        f"queued {len(answered)} repl{'y' if len(answered) == 1 else 'ies'} for cluster {cluster_id}: "
        f"tickets {', '.join(map(str, answered))}"
    )


@clusters_group.command("remove")
@click.argument("ticket", type=int)
@pass_context
def clusters_remove(ctx: Context, ticket: int) -> None:
    """Take TICKET out of its cluster (kept as a correction for `dedupe replay`)."""
    with ctx.store().transaction() as session:
        try:
            cluster_id = remove_from_cluster(session, ticket, datetime.now(UTC))
        except ClusterError as error:
            fail(str(error))
    click.echo(f"ticket {ticket} removed from cluster {cluster_id}")


@click.command("unmerge")
@click.argument("message_id", type=int)
@pass_context
def tickets_unmerge(ctx: Context, message_id: int) -> None:
    """Split a mail that dedupe merged into its own ticket, with its own acknowledgement.

    MESSAGE_ID is the message's id (`tickets show N --json`, messages[].id).
    Kept as a correction for `dedupe replay`.
    """
    desk = ctx.desk()
    with desk.store.transaction() as session:
        env = StageEnv(session, desk.settings, datetime.now(UTC), desk.secret, desk.templates)
        try:
            old, new = unmerge(message_id, env)
        except UndoError as error:
            fail(str(error))
    click.echo(f"message {message_id} moved from ticket {old} to new ticket {new}")
