"""PBX voicemail mails: recognising them, caller to customer, recording to ticket."""
