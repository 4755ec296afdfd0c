"""The language stage: a new ticket's language, decided once from what the customer newly wrote."""

from __future__ import annotations

from postdesk.core.kinds import MailKind
from postdesk.core.work import Work
from postdesk.language.detect import decide
from postdesk.parse.reply_text import split_reply
from postdesk.parse.subject import without_prefixes
from postdesk.pipeline.env import StageEnv


def decide_language(work: Work, env: StageEnv) -> Work:
    """A customer's mail that opens a ticket: the ticket's language, a fact for the store stage.

    A follow-up keeps its ticket's language; machine mail and voicemail get the
    desk's (they carry no customer's words)."""
    mail = work.mail
    if mail is None or work.kind != MailKind.CUSTOMER or work.ticket_id is not None:
        return work
    desk = env.settings.desk
    decision = decide(
        env.resources.language,
        f"{without_prefixes(mail.subject)}\n{split_reply(mail.text).new_text}",
        mail.header("content-language"),
        answered_in=env.templates.languages_of("acknowledgement"),
        desk_language=desk.language,
        fallback_language=desk.fallback_language,
    )
    return work.with_fact(decision)
