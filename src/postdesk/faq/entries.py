"""FAQ entries as files: Markdown with a small YAML front matter.

    ---
    title: Wie setze ich mein Passwort zurück?
    language: de
    tags: [passwort, login, anmeldung]
    url: https://help.example.com/de/passwort
    ---
    Klicken Sie auf der Anmeldeseite auf „Passwort vergessen?“ …

`question` may stand for `title`; without `language` the first folder below
the FAQ folder (`de/`, `en/`) names it. An entry's id is its path below the
folder without `.md`, e.g. ``de/passwort-vergessen``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

LANGUAGES = ("de", "en")

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


class FaqError(Exception):
    """A FAQ file that cannot be read; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    language: str
    title: str
    body: str
    tags: tuple[str, ...] = ()
    url: str = ""
    sha256: str = ""


def load_folder(folder: Path) -> tuple[Entry, ...]:
    """Every ``*.md`` below FOLDER as an entry, sorted by id; raises FaqError on the first bad file."""
    if not folder.is_dir():
        raise FaqError(f"{folder}: no such folder ([faq] path)")
    entries = tuple(read_entry(folder, path) for path in sorted(folder.rglob("*.md")) if path.is_file())
    if not entries:
        raise FaqError(f"{folder}: no FAQ entries (*.md files) found")
    return entries


def read_entry(folder: Path, path: Path) -> Entry:
    raw = path.read_bytes()
    entry_id = path.relative_to(folder).with_suffix("").as_posix()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FaqError(f"{path}: not UTF-8 text") from None
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise FaqError(f"{path}: no front matter (a '---' block with title and language first)")
    try:
        meta = yaml.safe_load(match[1]) or {}
    except yaml.YAMLError as error:
        raise FaqError(f"{path}: front matter is not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(meta, dict):
        raise FaqError(f"{path}: front matter must be 'key: value' lines")
    title = str(meta.get("title") or meta.get("question") or "").strip()
    if not title:
        raise FaqError(f"{path}: front matter needs a title (or question)")
    folder_language = entry_id.split("/", 1)[0] if "/" in entry_id else ""
    language = str(meta.get("language") or meta.get("lang") or folder_language).strip().lower()
    if language not in LANGUAGES:
        raise FaqError(f"{path}: language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    tags = meta.get("tags") or ()
    if isinstance(tags, str):
        tags = [tag.strip() for tag in tags.split(",")]
    if not isinstance(tags, list | tuple):
        raise FaqError(f"{path}: tags must be a list such as [login, passwort]")
    body = text[match.end() :].strip()
    if not body:
        raise FaqError(f"{path}: the entry has no text below its front matter")
    return Entry(
        id=entry_id,
        language=language,
        title=title,
        body=body,
        tags=tuple(str(tag).strip() for tag in tags if str(tag).strip()),
        url=str(meta.get("url") or "").strip(),
        sha256=hashlib.sha256(raw).hexdigest(),
    )


_MARKUP = (
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links and images: their text
    (re.compile(r"^\s{0,3}(#{1,6}|>|[-*+]|\d+[.)])\s+", re.MULTILINE), ""),  # headings, quotes, list marks
    (re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # emphasis, code
)


def plain_text(markdown: str) -> str:
    """The entry's text without Markdown marks, lines joined: for excerpts and the index."""
    text = markdown
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


def excerpt(markdown: str, limit: int) -> str:
    """About LIMIT characters from the start of the entry, cut at a word, '…' when shortened."""
    text = plain_text(markdown)
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.-–")
    return f"{cut} …"
