"""Running the desk: `serve` (everything in one process), `process` and `send` (one part each)."""

from __future__ import annotations

import time

import click

from postdesk.cli.kit import Context, fail, pass_context


@click.command()
@click.option("--no-process", is_flag=True, help="Do not run the pipeline worker (listeners only).")
@click.option("--no-send", is_flag=True, help="Do not deliver outgoing mail in this process.")
@click.option(
    "--metrics",
    "metrics_listen",
    metavar="HOST:PORT",
    help="Serve Prometheus /metrics and /healthz here (overrides [metrics] listen).",
)
@pass_context
def serve(ctx: Context, no_process: bool, no_send: bool, metrics_listen: str | None) -> None:
    """Run the listeners, the pipeline worker and the sender in one process.

    Migrates the database first when [store] auto_migrate is true (the default).
    Stop with Ctrl-C or SIGTERM: listeners stop accepting, received mail is
    committed, the worker finishes its message, then all exit.
    """
    from postdesk.config.model import parse_listen
    from postdesk.runtime.serve import ListenError
    from postdesk.runtime.serve import serve as run

    if metrics_listen:
        try:
            parse_listen(metrics_listen)
        except ValueError as error:
            fail(f"--metrics {metrics_listen}: {error}")
    from postdesk.runtime.files import warn_if_exposed

    desk = ctx.desk(migrate=ctx.settings.store.auto_migrate)
    warn_if_exposed(desk.settings.store.url, ctx.config_path)
    try:
        run(
            desk,
            process=not no_process,
            send=not no_send,
            log_format=ctx.log_format,
            metrics_listen=metrics_listen,
        )
    except ListenError as error:
        fail(str(error))


@click.command()
@click.option("--once", is_flag=True, help="Process what is pending, then exit.")
@click.option(
    "--retry-failed", "requeue_failed", is_flag=True, help="Put failed messages back in the queue first."
)
@pass_context
def process(ctx: Context, once: bool, requeue_failed: bool) -> None:
    """Run the pipeline over received mail (without listening)."""
    desk = ctx.desk(synchronous="NORMAL")  # derived from the durable spool
    if requeue_failed:
        from postdesk.pipeline.worker import retry_failed

        click.echo(f"{retry_failed(desk.store)} failed message(s) queued again", err=True)
    processor = desk.processor()
    total = 0
    while True:
        count = processor.process_pending(limit=500)
        total += count
        if count:
            click.echo(f"processed {total}", err=True)
        elif once:
            break
        else:
            time.sleep(desk.settings.pipeline.poll_seconds)
    click.echo(f"done: {total} message(s) processed", err=True)


@click.command("send")
@click.option("--once", is_flag=True, help="Send what is due, then exit.")
@pass_context
def send(ctx: Context, once: bool) -> None:
    """Deliver queued outgoing mail (maildir or SMTP relay)."""
    desk = ctx.desk(synchronous="NORMAL")  # derived from the durable spool
    sender = desk.sender()
    while True:
        sent, troubled = sender.send_due()
        if once and not (sent or troubled):
            break
        if not (sent or troubled):
            time.sleep(desk.settings.pipeline.poll_seconds)
    click.echo("outbox: nothing more due", err=True)
