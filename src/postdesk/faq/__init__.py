"""FAQ suggestions: Markdown entries, a BM25 index over them, and the few
entries good enough to offer in a new ticket's acknowledgement (docs/faq.md)."""
