"""SIPp as citizens' phones and as desk phones, for the lab, the tests and the benchmark.

Scenarios are generated per use (digits to press, how long to stay, how a desk answers; see
hotline/lab/sipp_scenarios.py) and every phone writes a log of what it saw, so a test can
check what a person would: the desk's screen (the INVITE's From: caller number and
emergency type) and whether the caller was answered.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from hotline.lab.ports import free_port, free_port_pair
from hotline.lab.rtp_pcap import rtp_payload_type
from hotline.lab.sipp_scenarios import (
    DTMF_PCAP_DIR,
    carrier_scenario,
    citizen_scenario,
    desk_dial_scenario,
    desk_incoming_scenario,
    desk_register_scenario,
    desk_unregister_scenario,
)


def sipp_binary() -> str:
    path = shutil.which("sipp")
    if not path:
        raise FileNotFoundError("sipp missing: apt-get install sip-tester")
    return path


@dataclass
class SippRun:
    """One SIPp process and the log it writes."""

    name: str
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    media_port: int = 0  # where the phone takes RTP (SIPp -mp): a capture of its audio filters on it
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"{self.name}.log"

    def log_lines(self) -> list[str]:
        if not self.log_path.exists():
            return []
        return [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str] | None:
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            for line in self.log_lines():
                m = rx.search(line)
                if m:
                    return m
            if time.monotonic() > deadline:
                return None
            time.sleep(0.1)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout: float) -> int | None:
        if self.proc is None:
            raise RuntimeError(f"SIPp {self.name!r} was never started")
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=3)


def _start(run: SippRun, args: list[str]) -> SippRun:
    stdout = open(run.workdir / f"{run.name}.out", "wb")
    run.proc = subprocess.Popen(
        [sipp_binary(), *args, "-trace_logs", "-log_file", str(run.log_path),
         "-trace_err", "-error_file", str(run.workdir / f"{run.name}.errors"), "-nostdin"],
        stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.STDOUT, cwd=run.workdir,
    )
    return run


def place_call(target: str, number: str, caller: str, workdir: Path, digits: str = "",
               stay_ms: int = 30000, first_digit_after_ms: int = 1500, name: str | None = None,
               local_ip: str = "127.0.0.1", voice: Path | None = None, voice_after_ms: int = 3000,
               voice_first: bool = False) -> SippRun:
    """A citizen's phone: one call from ``caller`` to ``number`` at ``target`` (host:port).
    ``voice``: an RTP pcap (hotline/lab/rtp_pcap.py) played ``voice_after_ms`` after the
    last digit (``voice_first``: after the answer, the digits pressed while it plays); without,
    the phone sends no audio but its keys."""
    run = SippRun(name or f"citizen-{caller}", workdir)
    scenario = run.workdir / f"{run.name}.xml"
    scenario.write_text(citizen_scenario(
        caller, digits, first_digit_after_ms=first_digit_after_ms, stay_ms=stay_ms, voice=voice,
        voice_after_ms=voice_after_ms, voice_payload_type=rtp_payload_type(voice) if voice is not None else 0,
        voice_first=voice_first))
    run.media_port = free_port_pair()
    return _start(run, [target, "-sf", str(scenario), "-s", number, "-m", "1", "-l", "1",
                        "-i", local_ip, "-p", str(free_port()), "-mp", str(run.media_port),
                        "-recv_timeout", str(stay_ms + 60000)])


def start_desk_phone(target: str, desk_id: str, password: str, workdir: Path,
                     answer_after_ms: int = 500, talk_ms: int = 2000, answer: bool = True,
                     reject: bool = False, local_ip: str = "127.0.0.1", audio: Path | None = None) -> SippRun:
    """A desk phone that registers as ``desk_id`` and takes every call the same way;
    ``audio``: an RTP pcap it plays on each call once answered (none: it sends no audio)."""
    run = SippRun(f"desk-phone-{desk_id}", workdir)
    main = run.workdir / f"{run.name}-register.xml"
    incoming = run.workdir / f"{run.name}-incoming.xml"
    inject = run.workdir / f"{run.name}.csv"
    main.write_text(desk_register_scenario(desk_id))
    incoming.write_text(desk_incoming_scenario(answer_after_ms, talk_ms, answer, reject, audio=audio,
                                               audio_payload_type=rtp_payload_type(audio) if audio is not None else 0))
    inject.write_text(f"SEQUENTIAL\n[authentication username={desk_id} password={password}];\n")
    run.media_port = free_port_pair()
    return _start(run, [target, "-sf", str(main), "-oocsf", str(incoming), "-inf", str(inject),
                        "-m", "1", "-l", "1", "-i", local_ip, "-p", str(free_port()),
                        "-mp", str(run.media_port)])


def unregister_desk_phone(target: str, desk_id: str, password: str, workdir: Path,
                          local_ip: str = "127.0.0.1") -> SippRun:
    """Takes ``desk_id``'s phone off the line (hotline/lab/sipp_scenarios.py
    desk_unregister_scenario): afterwards Asterisk has no contact for the desk. The run exits
    once done; its log says ``UNREGISTERED``."""
    run = SippRun(f"desk-unregister-{desk_id}", workdir)
    scenario = run.workdir / f"{run.name}.xml"
    inject = run.workdir / f"{run.name}.csv"
    scenario.write_text(desk_unregister_scenario(desk_id))
    inject.write_text(f"SEQUENTIAL\n[authentication username={desk_id} password={password}];\n")
    return _start(run, [target, "-sf", str(scenario), "-inf", str(inject), "-m", "1", "-l", "1",
                        "-i", local_ip, "-p", str(free_port()), "-recv_timeout", "15000"])


def dial_from_desk(target: str, desk_id: str, password: str, number: str, workdir: Path,
                   local_ip: str = "127.0.0.1") -> SippRun:
    """The desk phone ``desk_id`` dials ``number`` once (a feature code such as *70)."""
    run = SippRun(f"desk-dial-{desk_id}-{number.replace('*', 'star')}", workdir)
    scenario = run.workdir / f"{run.name}.xml"
    inject = run.workdir / f"{run.name}.csv"
    scenario.write_text(desk_dial_scenario(desk_id))
    inject.write_text(f"SEQUENTIAL\n[authentication username={desk_id} password={password}];\n")
    return _start(run, [target, "-sf", str(scenario), "-inf", str(inject), "-s", number, "-m", "1", "-l", "1",
                        "-i", local_ip, "-p", str(free_port()), "-mp", str(free_port_pair()),
                        "-recv_timeout", "15000"])


def start_carrier(port: int, workdir: Path, answer: bool = True, answer_after_ms: int = 1000,
                  hold_ms: int = 2000, local_ip: str = "127.0.0.1", name: str = "carrier") -> SippRun:
    """The city's phone network at ``local_ip:port`` (the lab's ``carrier_port``): answers
    (or not) every call Asterisk places to a citizen; the log says which numbers were called
    (``INVITE number=<n>``)."""
    run = SippRun(name, workdir)
    scenario = run.workdir / f"{run.name}.xml"
    scenario.write_text(carrier_scenario(answer, answer_after_ms, hold_ms))
    return _start(run, ["-sf", str(scenario), "-i", local_ip, "-p", str(port),
                        "-mp", str(free_port_pair())])


def wait_registered(run: SippRun, timeout: float = 20) -> None:
    if not run.wait_for(r"REGISTERED", timeout):
        errors = (run.workdir / f"{run.name}.errors")
        detail = errors.read_text(errors="replace")[-1500:] if errors.exists() else ""
        raise RuntimeError(f"{run.name} did not register within {timeout:.0f} s\n{detail}")


def env_has_sipp() -> bool:
    return shutil.which("sipp") is not None and os.path.isdir(DTMF_PCAP_DIR)
