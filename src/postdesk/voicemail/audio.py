"""The recording: which attachment it is, and how long it really is.

The length comes from the audio itself where its format says (mutagen reads
WAV, Ogg, MP3, FLAC and more without decoding), so a phone system's rounded
or missing figure does not matter. A recording that is missing, empty,
unreadable or shorter than its header claims is flagged, never dropped.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import mutagen

from postdesk.core.mail import Attachment

AUDIO_EXTENSIONS = (".wav", ".gsm", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".flac", ".amr", ".wma")


@dataclass(frozen=True, slots=True)
class RecordingCheck:
    seconds: float | None  # None: the audio did not say
    problem: str | None  # None: the recording is fine


def recording_index(attachments: Sequence[Attachment]) -> int | None:
    """Which attachment is the recording: the first audio one (audio/*, application/ogg, or by name)."""
    for index, part in enumerate(attachments):
        audio_type = part.content_type.startswith("audio/") or part.content_type == "application/ogg"
        if audio_type or part.filename.lower().endswith(AUDIO_EXTENSIONS):
            return index
    return None


def check_recording(data: bytes) -> RecordingCheck:
    """The recording's length from its own headers, and what is wrong with it, if anything."""
    if not data:
        return RecordingCheck(None, "the recording is empty (0 bytes)")
    try:
        audio = mutagen.File(io.BytesIO(data))
    except Exception as error:  # noqa: BLE001 - any broken file must still be attached, only flagged
        return RecordingCheck(None, f"the recording cannot be read ({_reason(error)})")
    if audio is None or audio.info is None:
        return RecordingCheck(None, "the recording is in no audio format postdesk can read")
    seconds = float(getattr(audio.info, "length", 0.0) or 0.0)
    bitrate = int(getattr(audio.info, "bitrate", 0) or 0)
    expected = seconds * bitrate / 8
    # A file cut short keeps its header, which still claims the full length.
    if bitrate and len(data) < expected / 2:
        return RecordingCheck(
            None, f"the recording is truncated ({len(data)} bytes where its header promises {expected:.0f})"
        )
    if seconds <= 0:
        return RecordingCheck(None, "the recording holds no sound (0 seconds)")
    return RecordingCheck(seconds, None)


def _reason(error: Exception) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def clock(seconds: float | None) -> str:
    """A duration as phone systems write it: "0:42", "12:05", "1:02:03"; "" when unknown."""
    if seconds is None:
        return ""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
