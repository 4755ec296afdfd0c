"""Optional transcription: a command of the site's choosing turns a recording into text.

`[voicemail] transcribe_command` runs with the recording's path (in place of
`{file}`, else as the last argument); what it prints becomes the voicemail
message's text. It runs outside the pipeline's transaction, in its own
worker, so a slow speech recogniser never holds up incoming mail: the
recording is stored and the ticket exists before transcription starts.
A command that fails, prints nothing useful or outlives its time limit is
logged and recorded on the voicemail; the recording stays either way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import or_, select

from postdesk.config.model import VoicemailSettings
from postdesk.store.models import Attachment, Blob, Message, Voicemail
from postdesk.store.session import Store


class StopSignal(Protocol):
    """What tells the transcriber to stop: a threading or multiprocessing Event."""

    def is_set(self) -> bool: ...


log = logging.getLogger(__name__)

# Transcripts longer than this are cut: a runaway command must not fill the database.
MAX_TRANSCRIPT_CHARS = 100_000
# A claim older than the time limit plus this is from a worker that died; it is taken over.
STALE_AFTER = timedelta(seconds=60)
_STDERR_CHARS = 300


@dataclass(frozen=True, slots=True)
class Outcome:
    text: str | None  # None: no transcript
    error: str | None = None
    interrupted: bool = False  # stopped by shutdown: try again later


def run_command(command: str, audio: Path, timeout: float, stopping: StopSignal) -> Outcome:
    """Run COMMAND on AUDIO; its standard output, or why there is none."""
    parts = shlex.split(command)
    argv = [part.replace("{file}", str(audio)) for part in parts]
    if not any("{file}" in part for part in parts):
        argv.append(str(audio))
    try:
        # Its own process group, so a wrapper script's children die with it on a timeout.
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as error:
        return Outcome(None, f"cannot run {argv[0]}: {error.strerror or error}")
    deadline = datetime.now(UTC) + timedelta(seconds=timeout)
    while True:
        try:
            stdout, stderr = proc.communicate(timeout=1.0)
            break
        except subprocess.TimeoutExpired:
            if stopping.is_set():
                _kill(proc)
                return Outcome(None, "stopped by shutdown", interrupted=True)
            if datetime.now(UTC) >= deadline:
                _kill(proc)
                return Outcome(None, f"timed out after {timeout:g} s")
    if proc.returncode != 0:
        detail = stderr.decode("utf-8", "replace").strip()[-_STDERR_CHARS:]
        return Outcome(None, f"exit status {proc.returncode}" + (f": {detail}" if detail else ""))
    return Outcome(stdout.decode("utf-8", "replace").strip()[:MAX_TRANSCRIPT_CHARS])


@dataclass(frozen=True)
class Transcriber:
    """Transcribes waiting recordings one at a time; `step` is one unit of work for a worker loop."""

    store: Store
    settings: VoicemailSettings
    stopping: StopSignal = field(default_factory=threading.Event)

    def step(self) -> int:
        """Transcribe one waiting recording; returns 1, or 0 when none waits."""
        claimed = self._claim()
        if claimed is None:
            return 0
        voicemail_id, filename, data = claimed
        with tempfile.TemporaryDirectory(prefix="postdesk-voicemail-") as folder:
            audio = Path(folder) / f"recording{_suffix(filename)}"
            audio.write_bytes(data)
            outcome = run_command(
                self.settings.transcribe_command,
                audio,
                self.settings.transcribe_timeout_seconds,
                self.stopping,
            )
        self._finish(voicemail_id, outcome)
        return 1

    def _claim(self) -> tuple[int, str, bytes] | None:
        now = datetime.now(UTC)
        stale = now - timedelta(seconds=self.settings.transcribe_timeout_seconds) - STALE_AFTER
        with self.store.transaction() as session:
            voicemail = session.execute(
                select(Voicemail)
                .where(
                    or_(
                        Voicemail.transcript_status == "pending",
                        (Voicemail.transcript_status == "running")
                        & (Voicemail.transcript_started_at < stale),
                    )
                )
                .order_by(Voicemail.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).scalar_one_or_none()
            if voicemail is None:
                return None
            recording = session.execute(
                select(Attachment.filename, Blob.data)
                .join(Blob, Blob.sha256 == Attachment.blob_sha256)
                .where(Attachment.id == voicemail.attachment_id)
            ).first()
            if recording is None:
                voicemail.transcript_status, voicemail.transcript_error = "failed", "no recording"
                return None
            voicemail.transcript_status, voicemail.transcript_started_at = "running", now
            return voicemail.id, recording.filename, recording.data

    def _finish(self, voicemail_id: int, outcome: Outcome) -> None:
        with self.store.transaction() as session:
            voicemail = session.get_one(Voicemail, voicemail_id)
            if outcome.interrupted:
                voicemail.transcript_status = "pending"
                return
            if outcome.text is None:
                voicemail.transcript_status, voicemail.transcript_error = "failed", outcome.error
                log.warning("voicemail %d: transcription failed: %s", voicemail_id, outcome.error)
                return
            voicemail.transcript_status, voicemail.transcript_error = "done", None
            if outcome.text:  # silence: keep the phone system's notice as the text
                session.get_one(Message, voicemail.message_row_id).text = outcome.text
            log.info("voicemail %d: transcribed, %d characters", voicemail_id, len(outcome.text))


def transcriber_for(store: Store, settings: VoicemailSettings, stopping: StopSignal) -> Transcriber | None:
    """A transcriber when a command is configured, else None."""
    return Transcriber(store, settings, stopping) if settings.transcribe_command else None


def _suffix(filename: str) -> str:
    """The recording's extension, for commands that go by it; never a path from the mail."""
    suffix = Path(filename).suffix.lower()
    return suffix if suffix[1:].isalnum() and len(suffix) <= 6 else ".audio"


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # it has just ended by itself
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
