"""Reply tokens: signed, ticket-bound, agent-bound where asked."""

from __future__ import annotations

from postdesk.threads.tokens import AGENT, ReplyToken, make_token, reply_address, tokens_in, verify

SECRET = b"k" * 32


def test_round_trip_through_the_reply_address() -> None:
    token = make_token(SECRET, 10001)
    address = reply_address("support@example.com", token)
    assert address.startswith("support+10001-c") and address.endswith("@example.com")
    [found] = tokens_in([f"<{address.upper()}>"], "support@example.com")
    assert found == token and verify(SECRET, found)


def test_a_forged_or_moved_token_does_not_verify() -> None:
    token = make_token(SECRET, 10001)
    moved = ReplyToken(10002, token.role, token.signature)
    assert not verify(SECRET, moved)
    assert not verify(b"other secret", token)


def test_agent_tokens_are_bound_to_the_agent() -> None:
    token = make_token(SECRET, 10001, AGENT, "anna@example.com")
    assert verify(SECRET, token, "Anna@Example.com")
    assert not verify(SECRET, token, "mallory@example.com")


def test_only_plus_addresses_of_the_desk_count() -> None:
    token = make_token(SECRET, 10001)
    assert (
        tokens_in(
            [
                f"other+{token}@example.com",
                f"support+{token}@evil.example",
                "support@example.com",
                "support+nonsense@example.com",
            ],
            "support@example.com",
        )
        == []
    )
