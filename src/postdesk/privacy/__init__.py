"""A customer's data: export it (GDPR Art. 15), erase it (Art. 17), and keep it
no longer than configured (Art. 5(1)(e)). docs/privacy.md says what each holds, removes and keeps.
"""
