"""A call's recording on disk: its file names, its WAV layout (also while Asterisk still writes
it) and how loud each direction is.

Asterisk's MixMonitor, started on the caller's channel when a desk answers, writes three WAV
files into ``[recording] dir``, named by the call id only (never anything a caller controls):

* ``<call_id>.wav``: both directions mixed, for replay;
* ``<call_id>-rx.wav``: what the caller's channel received from the caller (the caller's voice);
* ``<call_id>-tx.wav``: what it sent to the caller (the desk, and anyone conferenced in).

The WAV header's sizes are only written when the call ends, so a file being written is read
by its real length: :func:`wav_layout` finds the samples, :class:`WavSlice` serves any part of
them behind a header made for that part.
"""

from __future__ import annotations

import re
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from config.settings import CitySettings, RuntimeSettings

#: A call id that may name a file: Asterisk's UNIQUEID (``<systemname>-<epoch>.<n>``) fits.
CALL_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
WAV_HEADER_BYTES = 44
SOX_TIMEOUT_S = 60


class BadCallId(ValueError):
    """A call id that cannot name a recording file."""


class NotAWav(ValueError):
    """A file that is not a PCM WAV file this module can read."""


def check_call_id(call_id: str) -> str:
    if not CALL_ID_RE.fullmatch(call_id):
        raise BadCallId(f"call id {call_id!r} cannot name a recording: letters, digits, '.', '_' and '-' only, "
                        "starting with a letter or digit, at most 128 characters")
    return call_id


def asterisk_folder(city: CitySettings) -> str:
    """``[recording] dir`` as Asterisk sees it (what MixMonitor is told)."""
    return city.recording.dir


def host_folder(city: CitySettings, runtime: RuntimeSettings) -> Path:
    """The same folder as this process sees it: under ``HOTLINE_ASTERISK_ROOT``."""
    return runtime.asterisk_root / city.recording.dir.lstrip("/")


@dataclass(frozen=True)
class CallRecording:
    """The three files of one call's recording in one folder."""

    folder: Path
    call_id: str

    def __post_init__(self) -> None:
        check_call_id(self.call_id)

    @property
    def mix(self) -> Path:
        return self.folder / f"{self.call_id}.wav"

    @property
    def caller_leg(self) -> Path:
        return self.folder / f"{self.call_id}-rx.wav"

    @property
    def desk_leg(self) -> Path:
        return self.folder / f"{self.call_id}-tx.wav"

    def files(self) -> list[Path]:
        return [self.mix, self.caller_leg, self.desk_leg]


def mixmonitor_options(folder: str, call_id: str) -> tuple[str, str]:
    """(File, Options) of the AMI MixMonitor action for a call: the mix, and each direction apart."""
    rec = CallRecording(Path(folder), check_call_id(call_id))
    return str(rec.mix), f"r({rec.caller_leg})t({rec.desk_leg})"


# --- WAV ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WavLayout:
    """Where a PCM WAV file's samples are, by its real length."""

    sample_rate: int
    channels: int
    bits: int
    data_offset: int
    data_bytes: int  # whole frames present now
    final: bool      # the header's sizes match the file: the writer has closed it

    @property
    def frame_bytes(self) -> int:
        return self.channels * self.bits // 8

    @property
    def byte_rate(self) -> int:
        return self.sample_rate * self.frame_bytes

    @property
    def seconds(self) -> float:
        return self.data_bytes / self.byte_rate


def wav_layout(path: Path) -> WavLayout:
    """The layout of a PCM WAV file, complete or still being written; NotAWav otherwise."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(4096)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise NotAWav(f"{path.name}: not a RIFF/WAVE file")
    riff_size = struct.unpack_from("<I", head, 4)[0]
    pos, fmt = 12, None
    while pos + 8 <= len(head):
        chunk, length = head[pos:pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        body = pos + 8
        if chunk == b"fmt ":
            if body + 16 > len(head):
                break
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", head, body)
            if tag != 1 or bits != 16 or channels < 1 or rate < 1:
                raise NotAWav(f"{path.name}: not 16-bit PCM (format {tag}, {bits} bits, {channels} channels)")
            fmt = (rate, channels, bits)
        elif chunk == b"data":
            if fmt is None:
                break
            rate, channels, bits = fmt
            frame = channels * bits // 8
            present = size - body
            # Closed: the RIFF size is the file's; the data chunk may be followed by others.
            final = riff_size == size - 8 and length <= present
            usable = length if final else present
            return WavLayout(rate, channels, bits, body, usable - usable % frame, final)
        pos = body + length + (length & 1)
    raise NotAWav(f"{path.name}: no fmt and data chunks in its first {len(head)} bytes")


def wav_header(layout: WavLayout, data_bytes: int) -> bytes:
    """A 44-byte PCM WAV header for ``data_bytes`` of samples shaped like ``layout``."""
    return b"".join([
        b"RIFF", struct.pack("<I", 36 + data_bytes), b"WAVE",
        b"fmt ", struct.pack("<IHHIIHH", 16, 1, layout.channels, layout.sample_rate, layout.byte_rate,
                             layout.frame_bytes, layout.bits),
        b"data", struct.pack("<I", data_bytes),
    ])


@dataclass(frozen=True)
class WavSlice:
    """A WAV file made of a header and a run of another file's samples, read in byte ranges."""

    path: Path
    header: bytes
    start: int   # of the samples in ``path``
    length: int  # bytes of samples

    @property
    def size(self) -> int:
        return len(self.header) + self.length

    def read(self, first: int, last: int) -> bytes:
        """Bytes ``first``..``last`` (inclusive) of this WAV file."""
        out = self.header[first:last + 1]
        lo, hi = max(first - len(self.header), 0), last + 1 - len(self.header)
        if hi > lo:
            with self.path.open("rb") as f:
                f.seek(self.start + lo)
                out += f.read(min(hi, self.length) - lo)
        return out


def whole(path: Path) -> WavSlice:
    """The whole recording as a proper WAV, also while it is being written."""
    layout = wav_layout(path)
    return WavSlice(path, wav_header(layout, layout.data_bytes), layout.data_offset, layout.data_bytes)


def last_seconds(path: Path, seconds: float) -> WavSlice:
    """The last ``seconds`` written so far, as a proper WAV."""
    layout = wav_layout(path)
    want = int(seconds * layout.sample_rate) * layout.frame_bytes
    length = min(want, layout.data_bytes)
    start = layout.data_offset + layout.data_bytes - length
    return WavSlice(path, wav_header(layout, length), start, length)


# --- loudness ------------------------------------------------------------------------------------


def rms_amplitude(path: Path) -> float:
    """The RMS amplitude (0-1 of full scale) of a WAV file's samples, by sox ``stat``.

    The samples go to sox raw, so a file whose header was never finished is measured too."""
    layout = wav_layout(path)
    if layout.data_bytes == 0:
        return 0.0
    piece = whole(path)
    samples = piece.read(len(piece.header), piece.size - 1)
    proc = subprocess.run(
        ["sox", "-t", "raw", "-r", str(layout.sample_rate), "-e", "signed-integer", "-b", str(layout.bits),
         "-c", str(layout.channels), "-", "-n", "stat"],
        input=samples, capture_output=True, timeout=SOX_TIMEOUT_S, check=False)
    found = re.search(rb"RMS\s+amplitude:\s+([0-9.eE+-]+)", proc.stderr)
    if proc.returncode != 0 or not found:
        raise NotAWav(f"{path.name}: sox could not measure it: {proc.stderr.decode(errors='replace').strip()[-200:]}")
    return float(found.group(1))
