"""Outgoing mail: outbox, delivery, acknowledgements, loop guard."""
