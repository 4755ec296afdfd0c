"""Follow-up detection: reply token, Message-ID graph, subject tag."""
