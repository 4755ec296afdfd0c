"""HTML a mail client would not show: left out of the text (issue 16.7).

Spam and phishing hide text in HTML-only mail — `display:none`,
`visibility:hidden`, a zero font size — to carry words past filters or to
put a link into what the desk quotes back. A reader never sees that text,
so neither the acknowledgement nor an agent gets it; the raw mail keeps it.

Inline `style` attributes are what mail uses (most clients drop `<style>`
sheets), and they are read with a real CSS parser (tinycss2): comments,
`!important`, escapes, the last declaration winning, units on a zero size.
White-on-white text and rules in `<style>` sheets are not looked at.
"""

from __future__ import annotations

import tinycss2
from resiliparse.parse.html import DOMNode, HTMLTree
from tinycss2.ast import DimensionToken, IdentToken, NumberToken, PercentageToken


def drop_hidden(tree: HTMLTree) -> int:
    """Remove from TREE every element a reader cannot see; how many were removed."""
    if tree.body is None:
        return 0
    hidden = [
        node
        for node in tree.body.query_selector_all("[style], [hidden]")
        if node.hasattr("hidden") or is_hidden_style(node.getattr("style") or "")
    ]
    removed: list[DOMNode] = []
    for node in hidden:
        if any(outer.contains(node) for outer in removed):
            continue  # went with the element around it
        if node.parent is not None:
            node.parent.remove_child(node)
            removed.append(node)
    return len(removed)


def is_hidden_style(style: str) -> bool:
    """Whether an inline STYLE attribute makes its element invisible."""
    values: dict[str, list[object]] = {}
    for declaration in tinycss2.parse_blocks_contents(style, skip_comments=True, skip_whitespace=True):
        if declaration.type == "declaration":
            values[declaration.lower_name] = [t for t in declaration.value if t.type != "whitespace"]
    return (
        _is_ident(values.get("display"), "none")
        or _is_ident(values.get("visibility"), "hidden", "collapse")
        or _is_zero(values.get("font-size"))
    )


def _is_ident(tokens: list[object] | None, *names: str) -> bool:
    if not tokens:
        return False
    first = tokens[0]
    return isinstance(first, IdentToken) and first.lower_value in names


def _is_zero(tokens: list[object] | None) -> bool:
    if not tokens or len(tokens) != 1:
        return False
    token = tokens[0]
    return isinstance(token, DimensionToken | NumberToken | PercentageToken) and token.value == 0
