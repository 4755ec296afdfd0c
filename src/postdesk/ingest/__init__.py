"""Receiving mail: SMTP/LMTP listener, mailgate, the durable inbound spool;
parsing and classifying what came in."""
