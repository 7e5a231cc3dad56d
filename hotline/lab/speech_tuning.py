"""Tunes TALK_DETECT's thresholds ([ivr] speech_energy, speech_silence_ms) on recordings, on the
real lab: every sound of hotline.lab.speech_audio.TUNING_SOUNDS is sent as RTP by a SIPp caller
into the menu, for each pair of thresholds; the talking events Asterisk raises are collected
over AMI and replayed through the bridge's own detector (telephony.speech.detect) with the
city's speech_to_human_s. Prints one table: for each sound and thresholds, when the caller
would have gone to a person (seconds after the call came in), or "·".

    .venv/bin/python -m hotline.lab.speech_tuning [--energy 128,256,...] [--silence 300,500,...]

docs/speech.md has the table the shipped defaults were chosen from.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from panoramisk import Manager

from config.settings import load_settings
from hotline.lab.lab import Lab
from hotline.lab.rtp_pcap import rtp_audio
from hotline.lab.sipp import place_call
from hotline.lab.speech_audio import TUNING_SOUNDS, Sound, sound_pcap
from telephony.speech import CheckAt, Due, Heard, Quiet, SpeechRule, Spoke, Talk, TalkInput, detect

SHIPPED_CITY = Path(__file__).resolve().parents[2] / "hotline.toml"
ENERGIES = (128, 256, 384, 512, 768, 1024, 1536)
SILENCES_MS = (300, 500, 800)


@dataclass
class CallEvents:
    """What AMI said about one caller's channel, in ms of the AMI clock."""

    came_ms: float | None = None
    ended_ms: float | None = None
    talk: list[tuple[float, str, int]] = field(default_factory=list)  # (at, Start|Stop, duration)


def decision_ms(rule: SpeechRule, events: CallEvents) -> int | None:
    """When the bridge's detector would have sent the caller to a person (ms after the call
    came in), replaying the talking events and the timers they set; None: never."""
    if events.came_ms is None:
        return None
    pending: list[int] = []
    inputs: list[tuple[int, str, int]] = [(round(at - events.came_ms), kind, d) for at, kind, d in events.talk]
    end = round(events.ended_ms - events.came_ms) if events.ended_ms is not None else None
    talk = Talk()
    while inputs or pending:
        due = min(pending) if pending else None
        event: TalkInput
        if due is not None and (not inputs or due <= inputs[0][0]):
            pending.remove(due)
            at, event = due, Due(due, 0)
        else:
            at, kind, duration = inputs.pop(0)
            event = Heard(at, 0) if kind == "Start" else Quiet(at, duration, 0)
        if end is not None and at > end:  # the caller's channel was gone by then
            return None
        talk, decision = detect(rule, talk, event)
        if isinstance(decision, CheckAt):
            pending.append(decision.at_ms)
        elif isinstance(decision, Spoke):
            return at
    return None


class TalkListener:
    """An AMI login of its own (talking, new channels and hang-ups), in a thread with its own loop."""

    def __init__(self, lab: Lab):
        site = lab.site
        assert site is not None
        self.calls: dict[str, CallEvents] = defaultdict(CallEvents)
        self.loop = asyncio.new_event_loop()
        self.manager = Manager(loop=self.loop, host=site.ami_bind, port=site.ami_port, username=site.ami_user,
                               secret=site.ami_secret, events="call,class")
        for name in ("ChannelTalkingStart", "ChannelTalkingStop", "Newchannel", "Hangup"):
            self.manager.register_event(name, self._event)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.ready = threading.Event()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.manager.on_login = lambda manager: self.ready.set()
        self.manager.connect()
        self.loop.run_forever()

    def start(self) -> None:
        self.thread.start()
        if not self.ready.wait(15):
            raise RuntimeError("could not log in to the lab's AMI")

    def _event(self, manager: Manager, message: Mapping[str, Any]) -> None:
        caller = str(message.get("CallerIDNum", ""))
        if not caller.startswith("0977"):
            return
        at = float(message.get("Timestamp", time.time())) * 1000
        calls = self.calls[caller]
        name = str(message.get("Event"))
        if name == "Newchannel":
            calls.came_ms = at
        elif name == "Hangup":
            calls.ended_ms = at
        else:
            duration = str(message.get("Duration", "0"))
            calls.talk.append((at, "Start" if name == "ChannelTalkingStart" else "Stop",
                               int(duration) if duration.isdigit() else 0))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.manager.close)
        self.loop.call_soon_threadsafe(self.loop.stop)


def tuning_city(workdir: Path) -> Path:
    """The shipped city, its menu long enough that every sound ends inside it, and its own
    detector never deciding (this tool replays the events instead)."""
    text = SHIPPED_CITY.read_text()
    for key, value in (("speech_to_human_s", "10"), ("attempts", "5"), ("no_input_timeout_s", "30")):
        text = re.sub(rf"(?m)^{key}\s*=\s*[^#\n]*", f"{key} = {value} ", text, count=1)
    path = workdir / "city.toml"
    path.write_text(text)
    return path


def play_round(lab: Lab, listener: TalkListener, sounds: tuple[Sound, ...], energy: int, silence_ms: int,
               round_no: int, workdir: Path) -> dict[Sound, CallEvents]:
    assert lab.asterisk is not None
    lab.asterisk.cli(f"dialplan set global HOTLINE_TALK_DETECT {silence_ms},{energy}")
    callers = {f"0977{round_no:02d}{i:04d}": sound for i, sound in enumerate(sounds)}
    runs = []
    for caller, sound in callers.items():
        pcap = sound_pcap(sound)
        seconds = len(rtp_audio(pcap)[1]) / 8000
        runs.append(place_call(lab.sip_target, lab.city.hotline.number, caller, workdir, voice=pcap,
                               voice_after_ms=0, voice_first=True, stay_ms=round(seconds * 1000) + 1500))
    for run in runs:
        run.wait(60)
    time.sleep(1)  # the last hang-ups' events
    return {sound: listener.calls[caller] for caller, sound in callers.items()}


def table(results: dict[tuple[int, int], dict[Sound, CallEvents]], to_human_ms: int) -> str:
    settings = sorted(results)
    head = "| sound | " + " | ".join(f"E{e} S{s}" for s, e in settings) + " |"
    lines = [head, "|" + " --- |" * (len(settings) + 1)]
    decided: dict[tuple[int, int], dict[Sound, int | None]] = {
        key: {sound: decision_ms(SpeechRule(to_human_ms, key[0]), events) for sound, events in results[key].items()}
        for key in settings}
    for sound in TUNING_SOUNDS:
        cells = []
        for key in settings:
            ms = decided[key].get(sound)
            cells.append("·" if ms is None else f"{ms / 1000:.1f}")
        lines.append(f"| {'**' if sound.is_speech else ''}{sound.name}{'**' if sound.is_speech else ''} | "
                     + " | ".join(cells) + " |")
    lines.append("| **speech to a person** | " + " | ".join(
        f"{sum(decided[k][s] is not None for s in TUNING_SOUNDS if s.is_speech)}/"
        f"{sum(s.is_speech for s in TUNING_SOUNDS)}" for k in settings) + " |")
    lines.append("| **not speech, to a person** | " + " | ".join(
        f"{sum(decided[k][s] is not None for s in TUNING_SOUNDS if not s.is_speech)}/"
        f"{sum(not s.is_speech for s in TUNING_SOUNDS)}" for k in settings) + " |")
    lines.append("| **median decision, speech (s)** | " + " | ".join(
        _median([decided[k][s] for s in TUNING_SOUNDS if s.is_speech]) for k in settings) + " |")
    return "\n".join(lines)


def _median(values: list[int | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{statistics.median(known) / 1000:.1f}" if known else "·"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--energy", default=",".join(map(str, ENERGIES)), help="TALK_DETECT energies to try")
    parser.add_argument("--silence", default=",".join(map(str, SILENCES_MS)), help="silence thresholds (ms) to try")
    args = parser.parse_args()
    energies = [int(v) for v in args.energy.split(",")]
    silences = [int(v) for v in args.silence.split(",")]
    with tempfile.TemporaryDirectory(prefix="speech-tuning-") as tmp:
        workdir = Path(tmp)
        lab = Lab(city_file=tuning_city(workdir), workdir=workdir / "lab", name="speech-tuning",
                  progress=lambda _: None)
        lab.start()
        listener = TalkListener(lab)
        try:
            listener.start()
            results: dict[tuple[int, int], dict[Sound, CallEvents]] = {}
            for n, (silence_ms, energy) in enumerate((s, e) for s in silences for e in energies):
                results[(silence_ms, energy)] = play_round(lab, listener, TUNING_SOUNDS, energy, silence_ms, n,
                                                           workdir)
        finally:
            listener.stop()
            lab.stop()
    print(table(results, round(load_settings(SHIPPED_CITY).ivr.speech_to_human_s * 1000)))


if __name__ == "__main__":
    main()
