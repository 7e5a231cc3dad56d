"""Prompt audio, generated on the machine from the city's data file.

Every prompt key of every language is spoken by espeak-ng and converted by sox to
Asterisk's `.wav` format (8 kHz, mono, 16-bit signed PCM), as
`<out_dir>/<lang>/<key>.wav`; with out_dir = `<sounds>/hotline`, the dialplan plays
`hotline/<lang>/<key>`. Nothing is downloaded, so a city can change a prompt and
rebuild offline. A manifest keeps a hash of what each file was made from, so
only changed prompts are spoken again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from config.settings import TTS_SPEED_WPM, CitySettings

MANIFEST = "manifest.json"

# Part of every hash: changing how files are made rebuilds them all.
AUDIO_FORMAT = "wav:8000Hz:mono:s16:norm-3dB"
SOX_TO_ASTERISK_WAV = ["-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"]
SOX_NORMALIZE = ["gain", "-n", "-3"]  # same loudness for every prompt, headroom for the codec

# mkstemp makes 0600 files; Asterisk runs as its own user and must read them.
READABLE = 0o644

TOOLS = {"espeak-ng": "espeak-ng", "sox": "sox"}  # command → Debian package


class PromptBuildError(RuntimeError):
    """A prompt or hold-music file could not be made; the message says what to fix."""


def require_tool(command: str) -> str:
    path = shutil.which(command)
    if path is None:
        package = TOOLS.get(command, command)
        raise PromptBuildError(f"{command} not found on PATH: install the Debian package {package} (apt-get install {package})")
    return path


def _run(argv: list[str], what: str, stdin: bytes | None = None) -> None:
    result = subprocess.run(argv, input=stdin, capture_output=True, check=False)
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip() or f"exit status {result.returncode}"
        raise PromptBuildError(f"{what}: {Path(argv[0]).name} failed: {detail}")


def prompt_digest(text: str, voice: str, speed_wpm: int) -> str:
    blob = json.dumps({"text": text, "voice": voice, "speed_wpm": speed_wpm, "format": AUDIO_FORMAT}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _read_manifest(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        # No manifest, or a damaged one: rebuilding everything is the safe answer.
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(files, dict) else {}


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, READABLE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_manifest(path: Path, files: dict[str, str]) -> None:
    text = json.dumps({"format": AUDIO_FORMAT, "files": dict(sorted(files.items()))}, indent=2) + "\n"
    _write_atomically(path, text.encode("utf-8"))


def speak(text: str, voice: str, speed_wpm: int, target: Path) -> None:
    """Speak `text` into `target` as an Asterisk .wav; the file appears whole or not at all."""
    espeak, sox = require_tool("espeak-ng"), require_tool("sox")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".speak-") as tmp:
        raw, converted = Path(tmp) / "espeak.wav", Path(tmp) / "prompt.wav"
        # Text on stdin: a prompt starting with '-' must not be read as an option.
        _run([espeak, "-v", voice, "-s", str(speed_wpm), "-b", "1", "--stdin", "-w", str(raw)],
             f"{target} (voice {voice!r})", text.encode("utf-8"))
        _run([sox, str(raw), *SOX_TO_ASTERISK_WAV, str(converted), *SOX_NORMALIZE], str(target))
        os.chmod(converted, READABLE)
        os.replace(converted, target)


def build_prompts(settings: CitySettings, out_dir: str | Path, speed_wpm: int | None = None) -> list[Path]:
    """Make `<out_dir>/<lang>/<key>.wav` for every language and prompt key; return the files rebuilt.

    A file whose text, voice and speed are unchanged since the last build is kept.
    Files of prompts no longer in the settings are removed.
    """
    require_tool("espeak-ng")
    require_tool("sox")
    out_dir = Path(out_dir)
    speed = speed_wpm if speed_wpm is not None else settings.tts.speed_wpm
    if not TTS_SPEED_WPM[0] <= speed <= TTS_SPEED_WPM[1]:
        raise ValueError(f"speed_wpm must be {TTS_SPEED_WPM[0]}-{TTS_SPEED_WPM[1]} words per minute, got {speed}")
    manifest_path = out_dir / MANIFEST
    out_dir.mkdir(parents=True, exist_ok=True)
    old = _read_manifest(manifest_path)
    current: dict[str, str] = {}
    rebuilt: list[Path] = []

    for lang in settings.languages:
        voice = settings.tts.voice_for(lang)
        (out_dir / lang).mkdir(exist_ok=True)
        for key, text in settings.prompt_texts(lang).items():
            name = f"{lang}/{key}.wav"
            target = out_dir / name
            digest = prompt_digest(text, voice, speed)
            if old.get(name) != digest or not target.is_file():
                speak(text, voice, speed, target)
                rebuilt.append(target)
                # Record progress file by file: an interrupted build resumes where it stopped.
                _write_manifest(manifest_path, {**old, **current, name: digest})
            current[name] = digest

    root = out_dir.resolve()
    for name in old.keys() - current.keys():
        stale = (out_dir / name).resolve()
        if stale.parent.parent == root and stale.suffix == ".wav":  # only files this function made
            stale.unlink(missing_ok=True)
    _write_manifest(manifest_path, current)
    return rebuilt


def build_hold_music(source_wavs: Iterable[str | Path], out_dir: str | Path) -> list[Path]:
    """Convert local audio files to 8 kHz mono µ-law `<out_dir>/<stem>.ulaw` files for Asterisk's MOH.

    Callers' codec is µ-law, so Asterisk plays these without transcoding. Returns the files written.
    """
    sox = require_tool("sox")
    out_dir = Path(out_dir)
    sources = [Path(s) for s in source_wavs]
    stems: dict[str, Path] = {}
    for source in sources:
        if not source.is_file():
            raise PromptBuildError(f"{source}: no such hold-music file")
        if source.stem in stems:
            raise PromptBuildError(f"{source} and {stems[source.stem]} would both become {source.stem}.ulaw")
        stems[source.stem] = source
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for source in sources:
        target = out_dir / f"{source.stem}.ulaw"
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{source.stem}.", suffix=".ulaw")
        os.close(fd)
        try:
            _run([sox, str(source), "-t", "ul", "-r", "8000", "-c", "1", tmp, *SOX_NORMALIZE], str(target))
            os.chmod(tmp, READABLE)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        written.append(target)
    return written


# Tones a desk phone hears after a feature code: words would need every language, a tone
# is understood at once. sox "synth" arguments per tone.
DESK_TONES: dict[str, list[str]] = {
    "desk-ok": ["synth", "0.12", "sine", "1000", "pad", "0", "0.08", "repeat", "1", "vol", "0.5"],
    "desk-refused": ["synth", "0.6", "square", "220", "vol", "0.4"],
    "desk-error": ["synth", "0.15", "square", "300", "pad", "0", "0.1", "repeat", "2", "vol", "0.4"],
    "desk-held": ["synth", "0.2", "sine", "600", "vol", "0.3"],  # the caller is on hold (hotline-desk-hold)
}


def build_tones(out_dir: str | Path) -> list[Path]:
    """Write `<out_dir>/<tone>.wav` (8 kHz mono 16-bit) for every desk tone."""
    sox = require_tool("sox")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, synth in DESK_TONES.items():
        target = out_dir / f"{name}.wav"
        _run([sox, "-n", "-r", "8000", "-c", "1", "-b", "16", str(target), *synth], str(target))
        os.chmod(target, READABLE)
        written.append(target)
    return written
