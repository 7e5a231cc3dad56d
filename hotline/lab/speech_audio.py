"""Callers' sounds for the speech detector (telephony/speech.py), as RTP pcaps SIPp plays.

A sound is an espeak-ng sentence (a voice, a speed, a pitch, louder for shouting) mixed
with sox noise (white, pink or brown) at a signal-to-noise ratio, or noise alone, digital
silence, or a breathing-like low brown noise that swells and fades: what a caller on a
street, in a car or too scared to speak may send. Made once by espeak-ng and sox and kept
under the lab's cache (nothing binary in the repository); the pcap is G.711 µ-law
(hotline/lab/rtp_pcap.py).
"""

from __future__ import annotations

import hashlib
import math
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hotline.lab.asterisk_sandbox import default_cache_dir
from hotline.lab.rtp_pcap import PCMU, SAMPLE_RATE, write_rtp_pcap

SENTENCES = {
    "vi": "Cứu với, nhà tôi đang cháy, có người bị kẹt bên trong, làm ơn đến nhanh lên.",
    "en": "Help me please, my house is on fire and someone is trapped inside, come quickly.",
}
NOISES = ("white", "pink", "brown")


@dataclass(frozen=True)
class Sound:
    """``text``: a language of :data:`SENTENCES` ("" for none); ``gain_db``: on the speech
    (shouting: +); ``noise``: white, pink, brown, breath or "" (none); ``noise_db``: the
    noise's level, in dB below the speech when there is speech (the SNR), else in dBFS."""

    text: str = ""
    speed_wpm: int = 160
    pitch: int = 50
    gain_db: float = 0.0
    noise: str = ""
    noise_db: float = 20.0
    seconds: float = 6.0  # noise or silence alone lasts this long; with speech, the speech's length

    @property
    def name(self) -> str:
        if self.text:
            what = f"speech-{self.text}-{self.speed_wpm}wpm-p{self.pitch}-{self.gain_db:+g}dB"
            return what + (f"+{self.noise}-snr{self.noise_db:g}" if self.noise else "")
        if self.noise:
            return f"{self.noise}-{self.noise_db:g}dBFS-{self.seconds:g}s"
        return f"silence-{self.seconds:g}s"

    @property
    def is_speech(self) -> bool:
        return bool(self.text)


def _run(args: list[str]) -> bytes:
    proc = subprocess.run(args, capture_output=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {proc.stderr.decode(errors='replace')[-300:]}")
    return proc.stdout


def _rms_db(wav: Path) -> float:
    """The RMS level of a wav in dBFS (sox stat)."""
    out = subprocess.run(["sox", wav, "-n", "stat"], capture_output=True, text=True, timeout=30, check=False).stderr
    for line in out.splitlines():
        if line.startswith("RMS     amplitude"):
            return 20 * math.log10(max(float(line.split(":")[1]), 1e-9))
    raise RuntimeError(f"sox stat gave no RMS for {wav}: {out[-200:]}")


def _noise(kind: str, seconds: float, level_dbfs: float, out: Path) -> None:
    """``kind`` noise at ``level_dbfs`` RMS. breath: brown noise swelling and fading about
    every 3 s (tremolo), as a caller breathing hard into the phone."""
    color = "brown" if kind == "breath" else kind
    raw = out.with_suffix(".raw.wav")
    effects = ["tremolo", "0.33", "90"] if kind == "breath" else []
    _run(["sox", "-D", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(raw), "synth", f"{seconds:g}",
          f"{color}noise", *effects])
    _run(["sox", "-D", str(raw), str(out), "gain", f"{level_dbfs - _rms_db(raw):.2f}"])


def sound_pcap(sound: Sound, cache_dir: Path | None = None) -> Path:
    """The pcap of ``sound``, made once."""
    folder = (cache_dir or default_cache_dir()) / "pcap" / "speech"
    digest = hashlib.sha1(repr(sound).encode()).hexdigest()[:10]
    path = folder / f"{sound.name}-{digest}-pcmu.pcap"
    if path.exists():
        return path
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        mixed = work / "mixed.wav"
        if sound.text:
            spoken, speech = work / "spoken.wav", work / "speech.wav"
            _run(["espeak-ng", "-v", sound.text, "-s", str(sound.speed_wpm), "-p", str(sound.pitch),
                  "-w", str(spoken), SENTENCES[sound.text]])
            # -D: no dither, so silence between words stays silent; the gain may clip, as a shout does.
            _run(["sox", "-D", str(spoken), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(speech),
                  "gain", f"{sound.gain_db:g}"])
            if sound.noise:
                noise = work / "noise.wav"
                seconds = float(_run(["soxi", "-D", str(speech)]).decode())
                _noise(sound.noise, seconds, _rms_db(speech) - sound.noise_db, noise)
                _run(["sox", "-D", "-m", str(speech), str(noise), str(mixed)])
            else:
                mixed = speech
        elif sound.noise:
            _noise(sound.noise, sound.seconds, sound.noise_db, mixed)
        else:
            _run(["sox", "-D", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(mixed), "trim", "0",
                  f"{sound.seconds:g}"])
        ulaw = _run(["sox", "-D", str(mixed), "-r", str(SAMPLE_RATE), "-c", "1", "-e", "u-law", "-t", "raw", "-"])
    return write_rtp_pcap(path, ulaw, PCMU)


#: The sounds the thresholds were tuned on (docs/speech.md); speech ones must trigger, the rest not.
TUNING_SOUNDS: tuple[Sound, ...] = (
    *(Sound(lang, speed, pitch, gain) for lang in SENTENCES for speed, pitch, gain in
      ((120, 40, 0), (160, 50, 0), (220, 70, 0), (180, 60, 8), (160, 50, -10), (160, 50, -20))),
    *(Sound(lang, 160, 50, 0, noise, snr) for lang in SENTENCES for noise in NOISES for snr in (20, 10, 5)),
    *(Sound(noise=noise, noise_db=level) for noise in NOISES for level in (-50, -40, -30)),
    *(Sound(noise="breath", noise_db=level) for level in (-45, -35)),
    Sound(),
)
