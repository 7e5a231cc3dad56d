"""Replaying a call's recording: the whole mix, or the last seconds of a call going on (WAV, byte ranges)."""

from __future__ import annotations

import re

from config.settings import CitySettings, RuntimeSettings
from queueing.recording_files import CallRecording, WavSlice, check_call_id, host_folder, last_seconds, whole


class RecordingUnavailable(Exception):
    """The call has no recording file to serve (never recorded, or expired): 404 with why."""


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The (first, last) bytes a single ``Range: bytes=…`` asks for; None: the whole file; ValueError: unsatisfiable."""
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not header or not m or not (m.group(1) or m.group(2)):
        return None
    if not m.group(1):
        return max(size - int(m.group(2)), 0), size - 1
    first, last = int(m.group(1)), int(m.group(2)) if m.group(2) else size - 1
    if first >= size or last < first:
        raise ValueError(f"range {header!r} is outside the recording's {size} bytes")
    return first, min(last, size - 1)


class RecordingService:
    def __init__(self, city: CitySettings, runtime: RuntimeSettings) -> None:
        self.folder = host_folder(city, runtime)

    def _mix(self, call_id: str, record: dict[str, str]) -> CallRecording:
        rec = CallRecording(self.folder, check_call_id(call_id))
        if not rec.mix.exists():
            status = record.get("recording") or "never recorded"
            raise RecordingUnavailable(f"call {call_id} has no recording to play ({status})")
        return rec

    def whole(self, call_id: str, record: dict[str, str]) -> WavSlice:
        return whole(self._mix(call_id, record).mix)

    def recent(self, call_id: str, record: dict[str, str], seconds: int) -> WavSlice:
        return last_seconds(self._mix(call_id, record).mix, seconds)
