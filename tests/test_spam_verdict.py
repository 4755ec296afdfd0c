"""The sender verdict as a pure function of headers and `[spam]` settings (postdesk.spam.verdict),
and spamd's answer as the SPAMC protocol writes it; the end-to-end behaviour is in test_spam.py."""

from __future__ import annotations

import pytest

from conftest import make_mail
from postdesk.config.model import SpamSettings
from postdesk.parse.mime import parse_mail
from postdesk.spam.senders import PatternError, normal_pattern
from postdesk.spam.spamd import SpamdError, parse_answer
from postdesk.spam.verdict import Verdict, sender_verdict

MX = "mx.example.com"


def verdict(settings: SpamSettings | None = None, trusted: str = MX, **headers: str) -> Verdict:
    mail = parse_mail(make_mail(sender="Kim <kim@customer.example>", **headers).as_bytes())
    return sender_verdict(mail, settings or SpamSettings(), trusted)


def test_no_header_and_a_low_score_are_not_spam() -> None:
    assert not verdict().is_spam
    assert not verdict(X_Spam_Status="No, score=4.9 required=5.0 tests=NONE").is_spam
    assert not verdict(X_Spam_Flag="NO", X_Rspamd_Action="no action", X_Spam_Score="3.1").is_spam
    assert not verdict(X_Spamd_Result="default: False [2.00 / 15.00]; R_SPF_ALLOW(-0.2)").is_spam


def test_yes_headers_count_only_while_honoured_but_scores_always() -> None:
    quiet = SpamSettings(honour_spam_headers=False)
    assert not verdict(quiet, X_Spam_Flag="YES", X_Spam="Yes", X_Rspamd_Action="reject").is_spam
    assert verdict(quiet, X_Spam_Status="Yes, score=9.0 required=5.0").reason == "X-Spam-Status score 9 >= 5"
    assert verdict(SpamSettings(spamassassin_threshold=10), X_Spam_Status="Yes, score=9.0").is_spam


def test_only_the_configured_header_styles_are_read() -> None:
    rspamd_only = SpamSettings(headers=("rspamd",))
    assert not verdict(rspamd_only, X_Spam_Flag="YES").is_spam
    assert (
        verdict(rspamd_only, X_Rspamd_Action="rewrite subject").reason == "X-Rspamd-Action: rewrite subject"
    )
    assert not verdict(SpamSettings(rspamd_actions=("reject",)), X_Rspamd_Action="add header").is_spam


def test_authentication_results_count_only_from_the_trusted_server() -> None:
    dmarc = "dmarc=fail (p=reject) header.from=customer.example"
    forged = verdict(Authentication_Results=f"{MX}; {dmarc}")
    assert forged == Verdict(True, f"dmarc=fail for customer.example ({MX})", forged_from=True)
    assert not verdict(Authentication_Results=f"mx.evil.example; {dmarc}").is_spam
    assert not verdict(trusted="", Authentication_Results=f"{MX}; {dmarc}").is_spam
    assert not verdict(SpamSettings(dmarc_fail=False), Authentication_Results=f"{MX}; {dmarc}").is_spam
    # A pass from the trusted server is what honest mail carries.
    assert not verdict(Authentication_Results=f"{MX}; dmarc=pass header.from=customer.example").is_spam


def test_spf_or_dkim_failing_alone_is_not_spam_together_it_is() -> None:
    assert not verdict(Authentication_Results=f"{MX}; spf=fail smtp.mailfrom=customer.example").is_spam
    assert not verdict(Authentication_Results=f"{MX}; spf=pass; dkim=fail header.d=customer.example").is_spam
    both = verdict(
        Authentication_Results=f"{MX}; spf=fail smtp.mailfrom=x.example; dkim=fail header.d=x.example"
    )
    assert both == Verdict(True, f"spf=fail and dkim=fail ({MX})", forged_from=False)


def test_a_disabled_check_says_nothing() -> None:
    assert not verdict(SpamSettings(enabled=False), X_Spam_Flag="YES").is_spam


def test_spamd_answers_are_read_or_refused_clearly() -> None:
    answer = parse_answer(b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1000.5 / 5.0\r\n\r\n", "h:1")
    assert (answer.spam, answer.score, answer.threshold) == (True, 1000.5, 5.0)
    with pytest.raises(SpamdError, match="error 76 EX_PROTOCOL"):
        parse_answer(b"SPAMD/1.0 76 EX_PROTOCOL\r\n\r\n", "h:1")
    with pytest.raises(SpamdError, match="unreadable answer"):
        parse_answer(b"HTTP/1.1 400 Bad Request\r\n", "h:1")
    with pytest.raises(SpamdError, match="without a Spam: header"):
        parse_answer(b"SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n", "h:1")


def test_block_patterns_are_folded_or_refused() -> None:
    assert normal_pattern("Bob+Offers@Example.COM") == "bob@example.com"
    assert normal_pattern(" @Junk.Example ") == "@junk.example"
    for bad in ("bob", "@", "bob@localhost", "two words@x.example", ""):
        with pytest.raises(PatternError):
            normal_pattern(bad)
