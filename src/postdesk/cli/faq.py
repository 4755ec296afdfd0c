"""`postdesk faq index` and `postdesk faq search`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from postdesk.cli.kit import Context, fail, pass_context, print_json
from postdesk.faq.entries import FaqError, load_folder
from postdesk.faq.index import FaqIndex
from postdesk.faq.store import load_entries, save_entries

if TYPE_CHECKING:
    from postdesk.language.detect import LanguageDecision


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
    index, decide_language = _index_and_languages(ctx)
    if lang is None:
        decided = decide_language(text)
        click.echo(f"language {decided.language} ({decided.reason}); --lang to choose", err=True)
        lang = decided.language
    language = lang
    settings = ctx.settings
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


def _index_and_languages(ctx: Context) -> tuple[FaqIndex, Callable[[str], LanguageDecision]]:
    """The indexed FAQ entries, and the desk's language decision for a text (as a new ticket gets it)."""
    from postdesk.language.detect import Detector, decide

    settings = ctx.settings
    desk = ctx.desk()
    with desk.store.read() as session:
        entries = load_entries(session)
    desk.store.dispose()
    if not entries:
        fail("no FAQ entries are indexed: run `postdesk faq index` first")
    detector = Detector()
    languages = desk.templates.languages_of("acknowledgement")

    def decide_language(text: str) -> LanguageDecision:
        return decide(
            detector,
            text,
            None,
            answered_in=languages,
            desk_language=settings.desk.language,
            fallback_language=settings.desk.fallback_language,
        )

    return FaqIndex(entries), decide_language


@faq_group.command("eval")
@click.option(
    "--queries",
    "path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help='JSON lines: {"text": "...", "answers": ["entry-id", ...]} ([] = the FAQ does not cover it).',
)
@click.option(
    "--json", "as_json", is_flag=True, help="The figures, and per question what is offered and the top 10."
)
@pass_context
def faq_eval(ctx: Context, path: Path, as_json: bool) -> None:
    """How well the indexed FAQ answers your own questions, as acknowledgements would offer it.

    Offered precision (entries offered that answer the question), coverage
    (answerable questions offered anything), the wrong-suggestion rate, the
    silence on questions the FAQ does not cover, and the ranking with the
    thresholds off (P@1, hit@3, MRR@10). A line's "lang" fixes its
    language; without it the desk decides as for a new ticket.
    """
    from postdesk.faq.evaluate import QueriesError, load_queries, query_figures

    try:
        queries = load_queries(path)
    except QueriesError as error:
        fail(str(error))
    index, decide_language = _index_and_languages(ctx)
    figures = query_figures(
        index, queries, ctx.settings.faq, lambda query: query.language or decide_language(query.text).language
    )
    if as_json:
        print_json(figures)
        return

    def shown(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    click.echo(
        f"{figures['questions']} questions: {figures['answerable']} the FAQ answers, "
        f"{figures['not_covered']} it does not cover"
    )
    for key, label in (
        ("offered_precision", "offered precision"),
        ("coverage", "coverage"),
        ("wrong_rate", "wrong-suggestion rate"),
        ("silent_on_uncovered", "silent on not covered"),
        ("p_at_1", "P@1 (thresholds off)"),
        ("hit_at_3", "hit@3"),
        ("mrr_at_10", "MRR@10"),
    ):
        click.echo(f"  {label:<24} {shown(figures[key])}")
