"""Listen, whisper and barge on the real lab (telephony/call_control.py, hotline-spy in the
dialplan): a citizen talking to desk-101, the supervisor's desk phone (desk-401) rung by the API,
ChanSpy on desk-101's exact leg, the mode switched live three times in ONE session without a key
pressed. Each party sends its own tone (citizen 500 Hz, desk 1100 Hz, supervisor 2300 Hz); a
capture of the loopback keeps what Asterisk sends each phone, and sox measures each tone's band
in it, per mode: the supervisor hears both sides in every mode; the desk hears the supervisor
from whisper on; the citizen only in barge. Stopping hangs up the supervisor's phone only."""

from __future__ import annotations

import re
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from config.settings import RuntimeSettings
from hotline.lab.rtp_pcap import tone_pcap
from tests.api_tokens import SUPERVISOR, TOKENS, bearer
from tests.lab_fixtures import CITY, wait_call, wait_until

pytestmark = pytest.mark.e2e

CITIZEN_HZ, DESK_HZ, SUPERVISOR_HZ = 500, 1100, 2300
WINDOW_S = 3.0  # audio kept per mode
SETTLE_S = 1.0  # after a switch, before its window
HEARD, SILENT = 0.02, 0.005  # a tone's band RMS (0-1 of full scale): there / not there


@dataclass(frozen=True)
class Packet:
    at: float
    dst_port: int
    payload_type: int
    audio: bytes


def rtp_received(pcap: Path) -> list[Packet]:
    """The RTP packets of a tcpdump capture of the loopback (Ethernet-framed, little-endian µs pcap)."""
    data = pcap.read_bytes()
    out, pos = [], 24
    while pos + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, pos)
        frame = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        if len(frame) < 14 + 20 + 8 + 12 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
            continue
        ip_len = (frame[14] & 0x0F) * 4
        dst_port = struct.unpack_from("!H", frame, 14 + ip_len + 2)[0]
        rtp = frame[14 + ip_len + 8:]
        if rtp[0] >> 6 != 2 or rtp[1] & 0x7F not in (0, 8):
            continue
        out.append(Packet(sec + usec / 1e6, dst_port, rtp[1] & 0x7F, rtp[12 + 4 * (rtp[0] & 0x0F):]))
    return out


def band_rms(packets: list[Packet], port: int, start: float, end: float, hz: int) -> float:
    """RMS of the ``hz`` band (±150 Hz) in what the phone on ``port`` received between start and end."""
    mine = [p for p in packets if p.dst_port == port and start <= p.at <= end]
    assert len(mine) > 0.5 * (end - start) * 50, f"port {port}: {len(mine)} RTP packets in {end - start:.1f} s"
    raw = Path(tempfile.mkdtemp()) / "rx.raw"
    raw.write_bytes(b"".join(p.audio for p in mine))
    encoding = "a-law" if mine[0].payload_type == 8 else "u-law"
    proc = subprocess.run(["sox", "-t", "raw", "-r", "8000", "-e", encoding, "-c", "1", str(raw), "-n",
                           "sinc", f"{hz - 150}-{hz + 150}", "stat"], capture_output=True, text=True, timeout=30,
                          check=True)
    for line in proc.stderr.splitlines():
        if line.startswith("RMS     amplitude:"):
            return float(line.split(":")[1])
    raise AssertionError(proc.stderr)


def test_listen_then_whisper_then_barge_in_one_session(hotline, phones, tmp_path, capsys):
    capture = tmp_path / "lo.pcap"
    tcpdump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-s", "300", "-w", str(capture), "udp"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: capture.exists() and capture.stat().st_size >= 24, 10, "tcpdump to start")
        desk = phones.desk("desk-101", talk_ms=120_000, audio=tone_pcap(DESK_HZ, seconds=90.0))
        supervisor = phones.desk("desk-401", ready=False, talk_ms=120_000,
                                 audio=tone_pcap(SUPERVISOR_HZ, seconds=90.0))
        citizen = phones.citizen("0977000001", "1", stay_ms=120_000, voice=tone_pcap(CITIZEN_HZ, seconds=90.0),
                                 voice_after_ms=1500)
        rec = wait_call(hotline, "0977000001", ("on_call",), timeout=30)
        assert rec["desk"] == "desk-101"
        routing = hotline.routing()
        runtime = RuntimeSettings(city_file=CITY, redis_url=hotline.started_redis_url(),
                                  asterisk_root=hotline.asterisk.root)
        windows: dict[str, tuple[float, float]] = {}
        with TestClient(create_app(runtime, city=hotline.city, routing=routing, tokens=TOKENS)) as api:
            body = {"mode": "listen", "supervisor_desk": "desk-401"}
            assert api.post("/desks/desk-101/spy", json=body, headers=bearer("viewer")).status_code == 403
            assert api.post("/desks/desk-101/spy", json=body, headers=bearer("police@desk-101")).status_code == 403
            started = api.post("/desks/desk-101/spy", json=body, headers=SUPERVISOR)
            assert started.status_code == 201, started.text
            spy_id = started.json()["spy_id"]
            assert supervisor.wait_for("ANSWERED", 20), supervisor.log_lines()
            wait_until(lambda: routing.spy("desk-101").get("answered_ms"), 10, "the spy session answered")
            assert api.post("/desks/desk-101/spy", json={"mode": "barge", "supervisor_desk": "desk-102"},
                            headers=SUPERVISOR).status_code == 409  # one session per desk call
            for mode in ("listen", "whisper", "barge"):
                if mode != "listen":
                    reply = api.put("/desks/desk-101/spy", json={"mode": mode}, headers=SUPERVISOR)
                    assert reply.status_code == 200 and reply.json()["spy_id"] == spy_id, reply.text
                wait_until(lambda: routing.redis.xpending(routing.keys.call_commands(), "bridges")["pending"] == 0,
                           10, f"the bridge to carry out {mode}")
                time.sleep(SETTLE_S)
                start = time.time()
                time.sleep(WINDOW_S)
                windows[mode] = (start, time.time())
            stopped = api.delete("/desks/desk-101/spy", headers=SUPERVISOR)
            assert stopped.status_code == 200 and stopped.json()["spy_id"] == spy_id, stopped.text
            assert supervisor.wait_for("CALLER HUNG UP", 10), supervisor.log_lines()
            assert api.get("/desks/desk-101/spy", headers=bearer("viewer")).json() is None
    finally:
        tcpdump.terminate()
        tcpdump.wait(timeout=5)

    # The call goes on, untouched: the citizen and the desk still talking.
    assert routing.call(rec["call_id"])["state"] == "on_call"
    assert not citizen.wait_for("LINE HUNG UP", 0) and not desk.wait_for("CALLER HUNG UP", 0)
    types = [e["type"] for e in routing.events(500) if e.get("desk_id") == "desk-101" and e["type"].startswith("spy_")]
    assert types == ["spy_started", "spy_answered", "spy_mode", "spy_mode", "spy_stopped"], types

    packets = rtp_received(capture)
    heard = {(who, mode, tone): band_rms(packets, phone.media_port, *windows[mode], hz)
             for who, phone in (("supervisor", supervisor), ("desk", desk), ("citizen", citizen))
             for mode in windows
             for tone, hz in (("citizen", CITIZEN_HZ), ("desk", DESK_HZ), ("supervisor", SUPERVISOR_HZ))}
    with capsys.disabled():
        for (who, mode, tone), rms in sorted(heard.items()):
            print(f"\n{who:10} in {mode:7} hears the {tone:10} tone: RMS {rms:.4f}", end="")
        print()
    for mode in windows:
        # The supervisor hears both sides of the call in every mode.
        assert heard[("supervisor", mode, "citizen")] > HEARD and heard[("supervisor", mode, "desk")] > HEARD
        # The call itself carries on: each side hears the other.
        assert heard[("desk", mode, "citizen")] > HEARD and heard[("citizen", mode, "desk")] > HEARD
    assert heard[("desk", "listen", "supervisor")] < SILENT
    assert heard[("citizen", "listen", "supervisor")] < SILENT
    assert heard[("desk", "whisper", "supervisor")] > HEARD
    assert heard[("citizen", "whisper", "supervisor")] < SILENT
    assert heard[("desk", "barge", "supervisor")] > HEARD
    assert heard[("citizen", "barge", "supervisor")] > HEARD


def test_the_desks_call_ending_ends_the_session_and_the_call_ends_as_any_answered_call(hotline, phones):
    """ChanSpy's E: the desk's leg gone, the supervisor's leg ends; the watcher ends the session."""
    desk = phones.desk("desk-101", talk_ms=9000)
    supervisor = phones.desk("desk-401", ready=False, talk_ms=60_000)
    phones.citizen("0977000002", "1", stay_ms=60_000)
    rec = wait_call(hotline, "0977000002", ("on_call",), timeout=30)
    routing = hotline.routing()
    spy_id = routing.spy_start("desk-101", "desk-401", "listen", by="test")["spy_id"]
    assert supervisor.wait_for("ANSWERED", 20), supervisor.log_lines()
    wait_until(lambda: routing.spy("desk-101").get("answered_ms"), 10, "the spy session answered")
    # the lab names no desk-10: the leg ChanSpy got is desk-101's own, by its full name
    leg = hotline.asterisk.cli(f"core show channel {spy_id}").stdout
    assert re.search(r"Application: ChanSpy\s", leg) and re.search(r"Data: PJSIP/desk-101-[0-9a-f]{8},qEud\s", leg), leg

    assert desk.wait_for("DESK HUNG UP", 20), desk.log_lines()
    assert supervisor.wait_for("CALLER HUNG UP", 10), supervisor.log_lines()
    wait_until(lambda: routing.spy("desk-101") == {}, 10, "the session to end with the call")
    stopped = [e for e in routing.events(300) if e["type"] == "spy_stopped" and e.get("spy_id") == spy_id]
    assert stopped and stopped[0]["reason"] == "the supervisor's leg ended", stopped
    ended = wait_call(hotline, "0977000002", ("ended",), timeout=15)
    assert (ended["call_id"], ended["desk"], ended["outcome"]) == (rec["call_id"], "desk-101", "answered")
