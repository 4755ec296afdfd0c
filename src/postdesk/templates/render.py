"""Rendering mail templates in Jinja2's sandbox.

A template is one file per language, ``<lang>/<name>.txt``, with two blocks:
``subject`` and ``body``. Ops override any of them by putting a file of the
same name into the folder named by ``[templates] path``; the sandbox keeps an
edited template from reaching into Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, StrictUndefined, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

LANGUAGES = ("de", "en")


@dataclass(frozen=True, slots=True)
class RenderedMail:
    subject: str
    body: str


class TemplateMissing(Exception):
    pass


class MailTemplates:
    def __init__(self, override_dir: Path | None = None) -> None:
        self.override_dir = override_dir
        loaders: list[Any] = []
        if override_dir is not None:
            loaders.append(FileSystemLoader(str(override_dir)))
        loaders.append(PackageLoader("postdesk", "templates"))
        self._env = SandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,  # plain-text mail; nothing here is ever rendered as HTML
        )
        self._env.filters["quote"] = quote_text

    def render(self, name: str, language: str, **context: Any) -> RenderedMail:
        path = f"{language}/{name}.txt"
        try:
            template = self._env.get_template(path)
        except TemplateNotFound:
            raise TemplateMissing(f"no template {path!r}") from None
        ctx = template.new_context(context)
        subject = "".join(template.blocks["subject"](ctx)) if "subject" in template.blocks else ""
        body = "".join(template.blocks["body"](ctx))
        return RenderedMail(subject=" ".join(subject.split()), body=body.strip() + "\n")

    def names(self) -> list[str]:
        """Template names (without language and suffix) that exist for some language."""
        found = {
            path.split("/", 1)[1].removesuffix(".txt")
            for path in self._env.list_templates(extensions=["txt"])
            if path.split("/", 1)[0] in LANGUAGES
        }
        return sorted(found)

    def languages_of(self, name: str) -> list[str]:
        """The languages NAME exists in."""
        listed = set(self._env.list_templates(extensions=["txt"]))
        return [language for language in LANGUAGES if f"{language}/{name}.txt" in listed]

    def source(self, name: str, language: str) -> str:
        """Where NAME in LANGUAGE comes from: the override file's path, or 'built-in'."""
        if self.override_dir is not None:
            path = self.override_dir / language / f"{name}.txt"
            if path.is_file():
                return str(path)
        return "built-in"


def quote_text(text: str, limit: int = 600) -> str:
    """TEXT shortened to about LIMIT characters and quoted with '> '."""
    text = text.strip()
    if len(text) > limit:
        cut = text[:limit].rsplit(" ", 1)[0]
        text = cut.rstrip() + " […]"
    return "\n".join(f"> {line}".rstrip() for line in text.splitlines())
