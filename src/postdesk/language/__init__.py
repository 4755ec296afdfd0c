"""Which language a customer writes in: one decision per ticket (detect.py)."""
