"""Recording on the real lab, with real audio: the citizen speaks (sip-tester's G.711 A-law
voice pcap), the desk answers with a 440 Hz tone (a PCMU pcap made by sox), MixMonitor on the
caller's channel writes the mix and each direction, the lab's rq worker checks them after the
call, and the API serves the recording as the console plays it."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from config.settings import RuntimeSettings
from hotline.lab.lab import Lab
from hotline.lab.rtp_pcap import rtp_audio, tone_pcap, voice_pcap
from queueing.recording_files import CallRecording, wav_layout
from tests.api_tokens import SUPERVISOR, TOKENS
from tests.lab_fixtures import CITY, call_of, wait_call, wait_until

pytestmark = pytest.mark.e2e

CHECKED = ("ok", "broken", "missing")


def sox_stat(path: Path, what: str = "RMS amplitude", *options: str) -> float:
    """A figure of ``sox <file> -n stat``: the RMS amplitude (0-1 of full scale), the rough frequency."""
    proc = subprocess.run(["sox", *options, str(path), "-n", "stat"], capture_output=True, text=True, timeout=30,
                          check=True)
    found = re.search(r"\s+".join(what.split()) + r":\s+([0-9.eE+-]+)", proc.stderr)
    assert found, proc.stderr
    return float(found.group(1))


def sox_rms(path: Path) -> float:
    return sox_stat(path)


def voice_rms() -> tuple[float, float]:
    """(seconds, RMS amplitude) of the citizen's voice pcap itself."""
    _, audio = rtp_audio(voice_pcap())
    raw = Path(tempfile.mkdtemp()) / "voice.al"
    raw.write_bytes(audio)
    return len(audio) / 8000, sox_stat(raw, "RMS amplitude", "-t", "raw", "-r", "8000", "-e", "a-law", "-c", "1")


def recording_of(lab: Lab, call_id: str) -> CallRecording:
    return CallRecording(lab.asterisk.root / lab.city.recording.dir.lstrip("/"), call_id)


def talk(lab: Lab, phones, calls: list[tuple[str, str, Path]]) -> list[tuple[dict, CallRecording]]:
    """Citizens press 1 and speak once a police desk has answered, all at once: each caller
    (caller, desk, desk_audio) rings its own desk, made ready only once the callers before it
    are at theirs; each desk sends its ``desk_audio`` and hangs up after 10 s. Returns each
    call's record once the worker has checked the recording, and its files."""
    placed = []
    for caller, desk_id, desk_audio in calls:
        desk = phones.desk(desk_id, talk_ms=10000, audio=desk_audio)
        citizen = phones.citizen(caller, "1", stay_ms=40000, voice=voice_pcap(), voice_after_ms=2500)
        wait_call(lab, caller, ("ringing", "on_call", "ended"), timeout=30)  # at its desk: the next desk may get ready
        placed.append((caller, desk_id, desk, citizen))
    checked = []
    for caller, desk_id, desk, citizen in placed:
        rec = wait_call(lab, caller, ("ended",), timeout=45)
        assert desk.wait_for("AUDIO at", 1), desk.log_lines()
        assert citizen.wait_for("VOICE at", 1), citizen.log_lines()
        assert (rec["queue"], rec["desk"], rec["outcome"]) == ("police", desk_id, "answered")
        rec = wait_until(lambda caller=caller: (r := call_of(lab, caller)).get("recording") in CHECKED and r, 30,
                         f"the worker to check the recording of {caller}")
        checked.append((rec, recording_of(lab, rec["call_id"])))
    return checked


def test_voice_both_ways_is_recorded_checked_ok_and_served_and_a_silent_desk_is_marked_broken(hotline, phones, capsys):
    # Two calls at once, on the two police desks: one desk speaks (a 440 Hz tone), one is silent.
    ok, broken = talk(hotline, phones, [("0966000001", "desk-101", tone_pcap(440, seconds=6.0, volume=0.3)),
                                        ("0966000002", "desk-102", tone_pcap(440, seconds=6.0, volume=0.0))])
    _recorded_checked_ok_and_served(hotline, *ok, capsys)
    _marked_broken(hotline, *broken, capsys)


def _recorded_checked_ok_and_served(hotline, rec: dict, files: CallRecording, capsys) -> None:
    for path in files.files():
        assert path.exists(), f"{path} missing; recording detail: {rec.get('recording_detail')}"
        assert wav_layout(path).final, f"{path.name} not closed"
    assert rec["recording"] == "ok", rec.get("recording_detail")

    min_rms = hotline.city.recording.min_rms
    rms = {name: sox_rms(path) for name, path in
           (("caller (rx)", files.caller_leg), ("desk (tx)", files.desk_leg), ("mix", files.mix))}
    with capsys.disabled():
        print(f"\nrecording {rec['call_id']}: {wav_layout(files.mix).seconds:.1f} s, "
              + ", ".join(f"{k} RMS {v:.4f}" for k, v in rms.items())
              + f" (min_rms {min_rms:g}); check: {rec['recording_detail']}")
    assert rms["caller (rx)"] > min_rms
    assert rms["desk (tx)"] > min_rms
    # Each direction lasts about as long as the desk was on the call (answer to hang-up, 10 s).
    rx_s, tx_s = wav_layout(files.caller_leg).seconds, wav_layout(files.desk_leg).seconds
    assert 7 < rx_s < 12 and 7 < tx_s < 12
    # rx is the whole of the citizen's voice: its energy, spread over the file's length.
    voice_s, voice_level = voice_rms()
    assert rms["caller (rx)"] == pytest.approx(voice_level * (voice_s / rx_s) ** 0.5, rel=0.15)
    # tx is the desk's 440 Hz tone (0.3 of full scale: RMS 0.21 over its 6 s), not the voice.
    assert rms["desk (tx)"] == pytest.approx(0.3 / 2 ** 0.5 * (6.0 / tx_s) ** 0.5, rel=0.15)
    assert sox_stat(files.desk_leg, "Rough frequency") == pytest.approx(440, abs=40)
    assert abs(sox_stat(files.caller_leg, "Rough frequency") - 440) > 40

    # The console's replay: GET /calls/{id}/recording as a supervisor, the whole WAV.
    runtime = RuntimeSettings(city_file=CITY, redis_url=hotline.started_redis_url(),
                              asterisk_root=hotline.asterisk.root)
    with TestClient(create_app(runtime, city=hotline.city, routing=hotline.routing(), tokens=TOKENS)) as client:
        reply = client.get(f"/calls/{rec['call_id']}/recording", headers=SUPERVISOR)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "audio/wav"
    assert len(reply.content) == files.mix.stat().st_size
    assert reply.content == files.mix.read_bytes()


def _marked_broken(hotline, rec: dict, files: CallRecording, capsys) -> None:
    assert all(p.exists() for p in files.files())
    assert rec["recording"] == "broken", rec
    assert "desk's side (tx): silent" in rec["recording_detail"]
    assert "caller's side (rx)" not in rec["recording_detail"]
    rx, tx = sox_rms(files.caller_leg), sox_rms(files.desk_leg)
    with capsys.disabled():
        print(f"\nrecording {rec['call_id']}: caller (rx) RMS {rx:.4f}, desk (tx) RMS {tx:.4f}; "
              f"check: {rec['recording']}: {rec['recording_detail']}")
    assert tx < hotline.city.recording.min_rms < rx
