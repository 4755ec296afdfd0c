"""FAQ entries, the BM25 index, the suggestions' precision on the labelled set, and the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import REPO, Desk
from postdesk.config.model import FaqSettings
from postdesk.faq.entries import FaqError, excerpt, load_folder, read_entry
from postdesk.faq.evaluate import evaluate, load_mails, tune
from postdesk.faq.index import FaqIndex
from postdesk.faq.suggest import find_suggestions

FAQ = REPO / "faq"
MAILS = REPO / "tests" / "data" / "faq" / "mails.yaml"


@pytest.fixture(scope="module")
def index() -> FaqIndex:
    return FaqIndex(load_folder(FAQ))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- entries ------------------------------------------------------------------------------


def test_entry_front_matter(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "de/versand.md",
        "---\nquestion: Was kostet der Versand?\ntags: versand, kosten\n---\n"
        "# Versand\n\n**4,90 €**, ab 50 € frei.\n",
    )
    entry = read_entry(tmp_path, path)
    assert (entry.id, entry.language, entry.title) == ("de/versand", "de", "Was kostet der Versand?")
    assert entry.tags == ("versand", "kosten") and entry.url == "" and len(entry.sha256) == 64
    assert excerpt(entry.body, 200) == "Versand 4,90 €, ab 50 € frei."
    assert excerpt("Ein langer Satz mit vielen Wörtern darin", 20) == "Ein langer Satz mit …"


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("de/a.md", "Kein Front Matter", "no front matter"),
        ("de/a.md", "---\ntags: [x]\n---\nText", "needs a title"),
        ("x/a.md", "---\ntitle: T\n---\nText", "language must be one of de, en, not 'x'"),
        ("a.md", "---\ntitle: T\nlanguage: fr\n---\nText", "not 'fr'"),
        ("de/a.md", "---\ntitle: T\n---\n", "no text below its front matter"),
        ("de/a.md", "---\ntitle: [unclosed\n---\nText", "not valid YAML"),
        ("de/a.md", "---\ntitle: T\ntags: 3\n---\nText", "tags must be a list"),
    ],
)
def test_bad_entries_are_named_with_their_problem(tmp_path: Path, name: str, text: str, problem: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(FaqError, match=problem) as raised:
        read_entry(tmp_path, path)
    assert str(path) in str(raised.value)


def test_shipped_example_set() -> None:
    entries = load_folder(FAQ)
    languages = [entry.language for entry in entries]
    assert 30 <= len(entries) <= 60 and languages.count("de") >= 15 and languages.count("en") >= 15
    assert all(entry.url.startswith("https://") and entry.tags for entry in entries)


# --- retrieval ----------------------------------------------------------------------------


def test_stemming_finds_inflected_words(index: FaqIndex) -> None:
    [best, *_] = index.search("alte Rechnungen der letzten Monate", "de")
    assert best.entry.id == "de/rechnung-herunterladen"
    [best, *_] = index.search("refunded money for returned boots", "en")
    assert best.entry.id == "en/refund"
    assert index.search("", "de") == [] and index.search("Passwort", "fr") == []


def test_quoted_history_and_signature_are_not_searched(index: FaqIndex) -> None:
    text = (
        "Vielen Dank, das hat geklappt.\n\nViele Grüße\nKim\n\n"
        "Am 12.11.2026 um 10:02 schrieb Example Support <support@example.com>:\n"
        "> Ihr Passwort setzen Sie unter Passwort vergessen zurück. Passwort Passwort Login.\n"
    )
    assert find_suggestions(index, "Re: Passwort", text, "de", FaqSettings()) == ()


def test_nothing_good_enough_means_no_suggestion(index: FaqIndex) -> None:
    settings = FaqSettings()
    assert find_suggestions(index, "Dunkelmodus", "Bitte baut einen Dunkelmodus ein.", "de", settings) == ()
    text = (
        "Hallo, ich habe mein Passwort vergessen und komme nicht mehr in mein Konto. Wie setze ich es zurück?"
    )
    found = find_suggestions(index, "Login", text, "de", settings)
    assert [s.id for s in found] == ["de/passwort-vergessen"]
    assert found[0].url == "https://help.example.com/de/passwort-vergessen" and found[0].excerpt
    assert (
        find_suggestions(index, "Login", text, "de", settings.model_copy(update={"max_suggestions": 0})) == ()
    )


# --- evaluation ---------------------------------------------------------------------------


def test_labelled_set_shape() -> None:
    mails = load_mails(MAILS)
    ids = {entry.id for entry in load_folder(FAQ)}
    assert len(mails) >= 60 and len({m.id for m in mails}) == len(mails)
    assert {m.language for m in mails} == {"de", "en"}
    assert sum(not m.answers for m in mails) >= 0.3 * len(mails)
    assert all(m.answers <= ids for m in mails), "labels name FAQ entries that exist"


def test_precision_on_held_out_mails(index: FaqIndex) -> None:
    """The shipped thresholds, on the mails they were not tuned on, meet the issue's targets."""
    test_set = [m for m in load_mails(MAILS) if m.split == "test"]
    scores = evaluate(index, test_set, FaqSettings())
    print(
        f"\nheld-out {scores.mails} mails: precision@3 {scores.precision_at_3:.3f} "
        f"({scores.correct}/{scores.suggested}), recall {scores.recall:.3f}, "
        f"no suggestion on no-answer mails {scores.no_suggestion_share:.3f} "
        f"({scores.silent_on_no_answer}/{scores.no_answer})"
    )
    assert scores.precision_at_3 >= 0.8
    assert scores.no_suggestion_share >= 0.9
    assert scores.recall >= 0.7  # it still answers most mails it can


def test_shipped_thresholds_are_the_ones_tuned_on_the_tune_split(index: FaqIndex) -> None:
    tune_set = [m for m in load_mails(MAILS) if m.split == "tune"]
    chosen, _ = tune(index, tune_set, FaqSettings())
    shipped = FaqSettings()
    assert (chosen.min_score, chosen.min_share_of_best) == (shipped.min_score, shipped.min_share_of_best)


# --- CLI ----------------------------------------------------------------------------------


def test_faq_index_and_search_cli(make_desk: Callable[..., Desk], tmp_path: Path) -> None:
    folder = tmp_path / "faq"
    for entry in ("de/passwort-vergessen", "de/lieferzeit", "en/track-order"):
        write(folder, f"{entry}.md", (FAQ / f"{entry}.md").read_text(encoding="utf-8"))
    # Three entries give far lower BM25 scores than the shipped forty: a threshold to match.
    desk = make_desk({"faq": {"path": str(folder), "min_score": 0.5}})
    desk.run("db", "upgrade")

    missing = desk.run("faq", "search", "Passwort", check=False)
    assert missing.returncode == 1
    assert missing.stderr.decode().splitlines()[-1] == (
        "postdesk: no FAQ entries are indexed: run `postdesk faq index` first"
    )

    first = desk.json("faq", "index")
    assert first["entries"] == 3 and first["languages"] == {"de": 2, "en": 1} and len(first["added"]) == 3
    (folder / "de" / "lieferzeit.md").write_text(
        "---\ntitle: Lieferzeit\n---\nZwei Tage.\n", encoding="utf-8"
    )
    (folder / "en" / "track-order.md").unlink()
    second = desk.json("faq", "index")
    assert (second["added"], second["changed"], second["removed"], second["unchanged"]) == (
        [],
        ["de/lieferzeit"],
        ["en/track-order"],
        1,
    )
    text = desk.run("faq", "index").stdout.decode()
    assert text.startswith(f"indexed 2 FAQ entries from {folder} (2 de): 0 added, 0 changed, 0 removed")

    found = desk.json("faq", "search", "Ich habe mein Passwort vergessen, wie kann ich es zurücksetzen?")
    assert found["language"] == "de"
    assert found["matches"][0]["id"] == "de/passwort-vergessen" and found["matches"][0]["suggest"] is True
    assert found["matches"][0]["score"] > 0
    plain = desk.run("faq", "search", "Passwort vergessen zurücksetzen", "--lang", "de").stdout.decode()
    assert "de/passwort-vergessen" in plain
    assert desk.json("faq", "search", "where is my parcel")["matches"] == []  # no English entry left

    (folder / "de" / "broken.md").write_text("no front matter\n", encoding="utf-8")
    broken = desk.run("faq", "index", check=False)
    assert broken.returncode == 1
    assert (
        broken.stderr.decode().splitlines()[-1] == f"postdesk: {folder / 'de' / 'broken.md'}: "
        "no front matter (a '---' block with title and language first)"
    )
    absent = desk.run("faq", "index", "--path", str(tmp_path / "nowhere"), check=False)
    assert absent.returncode == 1 and "no such folder" in absent.stderr.decode()


QUERIES = [
    {"text": "I forgot my password and cannot log in, how do I reset it?", "answers": ["en/password-reset"]},
    {"text": "Where is my parcel? I would like to track my order.", "answers": ["en/track-order"]},
    {"text": "Wie kann ich meine Rechnung als PDF herunterladen?", "answers": ["de/rechnung-herunterladen"]},
    {"text": "Can I bring my dog to your office in Berlin?", "answers": [], "lang": "en"},
    {"text": "Habt ihr am Samstag geöffnet?", "answers": [], "lang": "de"},
    # An ops file may say another entry answers it: the desk's offer then counts as wrong.
    {"text": "I forgot my password and cannot log in, how do I reset it?", "answers": ["en/two-factor"]},
]


def test_faq_eval_gives_the_figures_of_an_ops_queries_file(
    make_desk: Callable[..., Desk], tmp_path: Path
) -> None:
    desk = make_desk({"faq": {"path": str(FAQ)}})
    desk.run("db", "upgrade")
    desk.run("faq", "index")
    queries = tmp_path / "queries.jsonl"
    queries.write_text("\n".join(json.dumps(row) for row in QUERIES) + "\n\n", encoding="utf-8")
    figures = desk.json("faq", "eval", "--queries", str(queries))
    per_question = figures.pop("per_question")
    # Checked by hand against `faq search` (default thresholds: min_score 4.5):
    # 1, 2 and 6 offer password-reset, track-order, password-reset; 3's right
    # entry ranks first but scores 3.2; 4 and 5 match nothing.
    assert figures == {
        "questions": 6,
        "answerable": 4,
        "not_covered": 2,
        "offered_precision": 0.667,  # 2 of the 3 offered
        "coverage": 0.75,  # 3 of the 4 answerable offered something
        "wrong_rate": 0.167,  # question 6, of 6
        "silent_on_uncovered": 1.0,
        "p_at_1": 0.75,  # question 6's two-factor ranks third
        "hit_at_3": 1.0,
        "mrr_at_10": 0.833,  # (1 + 1 + 1 + 1/3) / 4
    }
    assert [q["offered"] for q in per_question] == [
        ["en/password-reset"],
        ["en/track-order"],
        [],
        [],
        [],
        ["en/password-reset"],
    ]
    assert [q["language"] for q in per_question] == ["en", "en", "de", "en", "de", "en"]
    assert per_question[2]["top10"][0]["id"] == "de/rechnung-herunterladen"
    text = desk.run("faq", "eval", "--queries", str(queries)).stdout.decode()
    assert text.startswith("6 questions: 4 the FAQ answers, 2 it does not cover")

    queries.write_text(json.dumps(QUERIES[0]) + '\n{"text": "no answers key"}\n', encoding="utf-8")
    bad = desk.run("faq", "eval", "--queries", str(queries), check=False)
    assert bad.returncode == 1
    assert bad.stderr.decode().splitlines()[-1] == (
        f'postdesk: {queries}:2: "answers" must be a list of entry ids ([] = not covered)'
    )
