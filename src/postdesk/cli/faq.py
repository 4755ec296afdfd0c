"""`postdesk faq index` and `postdesk faq search`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from postdesk.cli.kit import Context, fail, pass_context, print_json
from postdesk.faq.entries import FaqError, load_folder
from postdesk.faq.index import FaqIndex
from postdesk.faq.store import load_entries, save_entries


@click.group("faq")
def faq_group() -> None:
    """FAQ entries suggested in acknowledgements: index the [faq] folder, try a search."""


@faq_group.command("index")
@click.option(
    "--path",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of Markdown entries (default: [faq] path).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what changed as JSON.")
@pass_context
def faq_index(ctx: Context, path: Path | None, as_json: bool) -> None:
    """(Re)build the FAQ index from the folder's *.md files.

    Entries whose file changed are updated, deleted files are removed. Running
    `postdesk serve` workers read the index when they start: restart them to
    pick up the new one.
    """
    folder = path or Path(ctx.settings.faq.path)
    try:
        entries = load_folder(folder)
    except FaqError as error:
        fail(str(error))
    desk = ctx.desk(migrate=ctx.settings.store.auto_migrate)
    with desk.store.transaction() as session:
        change = save_entries(session, entries, datetime.now(UTC))
    desk.store.dispose()
    counts = {
        language: sum(entry.language == language for entry in entries)
        for language in sorted({e.language for e in entries})
    }
    if as_json:
        print_json(
            {
                "folder": str(folder),
                "entries": len(entries),
                "languages": counts,
                "added": list(change.added),
                "changed": list(change.changed),
                "removed": list(change.removed),
                "unchanged": change.unchanged,
            }
        )
        return
    per_language = ", ".join(f"{n} {language}" for language, n in counts.items())
    click.echo(
        f"indexed {len(entries)} FAQ entries from {folder} ({per_language}): "
        f"{len(change.added)} added, {len(change.changed)} changed, "
        f"{len(change.removed)} removed, {change.unchanged} unchanged"
    )


@faq_group.command("search")
@click.argument("text")
@click.option("--lang", type=click.Choice(["de", "en"]), help="Language of the entries (default: guessed).")
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 50), help="How many matches.")
@click.option("--json", "as_json", is_flag=True, help="Print the matches as JSON.")
@pass_context
def faq_search(ctx: Context, text: str, lang: str | None, limit: int, as_json: bool) -> None:
    """Show the best FAQ matches for TEXT with their BM25 scores.

    Matches marked "suggest" pass [faq] min_score and min_share_of_best: an
    acknowledgement for a mail with this text would offer them.
    """
    settings = ctx.settings
    desk = ctx.desk()
    with desk.store.read() as session:
        entries = load_entries(session)
    desk.store.dispose()
    if not entries:
        fail("no FAQ entries are indexed: run `postdesk faq index` first")
    index = FaqIndex(entries)
    if lang is None:
        from postdesk.language.detect import Detector, decide

        decided = decide(
            Detector(),
            text,
            None,
            answered_in=desk.templates.languages_of("acknowledgement"),
            desk_language=settings.desk.language,
            fallback_language=settings.desk.fallback_language,
        )
        click.echo(f"language {decided.language} ({decided.reason}); --lang to choose", err=True)
        lang = decided.language
    language = lang
    hits = index.search(text, language, limit)
    suggested = {hit.entry.id for hit in index.suggest(text, language, settings.faq)}
    rows = [
        {
            "id": hit.entry.id,
            "score": round(hit.score, 3),
            "suggest": hit.entry.id in suggested,
            "title": hit.entry.title,
            "url": hit.entry.url,
        }
        for hit in hits
    ]
    if as_json:
        print_json({"language": language, "matches": rows})
        return
    if not rows:
        click.echo(f"no {language} FAQ entry matches")
        return
    for row in rows:
        mark = "suggest" if row["suggest"] else "       "
        click.echo(f"{row['score']:8.3f}  {mark}  {row['id']}  {row['title']}")
