"""Audio for the lab's SIPp phones: RTP pcaps that SIPp's ``play_pcap_audio`` sends after answer.

SIPp phones send no voice of their own, so a recording of a lab call would be silent both
ways. A phone can be given a pcap to play once answered:

* :data:`VOICE_PCAP`: Debian's sip-tester ships a few seconds of speech in G.711 A-law
  (PCMA, payload type 8, 30 ms packets);
* :func:`tone_pcap`: a sine tone (or digital silence, ``volume=0``: sox without dither) in G.711 µ-law (PCMU,
  payload type 0, 20 ms packets), made by sox at run time and written as a pcap of
  Ethernet/IPv4/UDP/RTP records under the lab's cache (nothing binary in the repository).

:func:`rtp_payload_type` reads a pcap's payload type, so a phone's SDP offers the codec its
pcap actually carries.
"""

from __future__ import annotations

import os
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

from hotline.lab.asterisk_sandbox import default_cache_dir
from hotline.lab.sipp_scenarios import DTMF_PCAP_DIR

VOICE_PCAP = DTMF_PCAP_DIR / "g711a.pcap"

PCMU = 0
SAMPLE_RATE = 8000
PCAP_MAGIC = 0xA1B2C3D4
LINKTYPE_ETHERNET = 1
_ETH = bytes.fromhex("020000000002" "020000000001") + b"\x08\x00"  # dst, src (locally administered), IPv4
_SRC_IP, _DST_IP = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
_SRC_PORT, _DST_PORT = 40000, 40002


def voice_pcap() -> Path:
    if not VOICE_PCAP.exists():
        raise FileNotFoundError(f"{VOICE_PCAP} missing: apt-get install sip-tester")
    return VOICE_PCAP


def _ip_checksum(header: bytes) -> int:
    total: int = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _packet(rtp: bytes, ident: int) -> bytes:
    udp = struct.pack("!HHHH", _SRC_PORT, _DST_PORT, 8 + len(rtp), 0) + rtp  # checksum 0: none (IPv4)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0xB8, 20 + len(udp), ident & 0xFFFF, 0x4000, 64, 17, 0,
                     _SRC_IP, _DST_IP)
    ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
    return _ETH + ip + udp


def write_rtp_pcap(path: Path, payload: bytes, payload_type: int = PCMU, ptime_ms: int = 20,
                   ssrc: int = 0x686F746C) -> Path:
    """``payload`` (8 kHz G.711 bytes) as RTP packets of ``ptime_ms`` each, in a pcap SIPp can play."""
    step = SAMPLE_RATE * ptime_ms // 1000
    records = [struct.pack("<IHHiIII", PCAP_MAGIC, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET)]
    for n, at in enumerate(range(0, len(payload) - step + 1, step)):
        rtp = struct.pack("!BBHII", 0x80, payload_type | (0x80 if n == 0 else 0), n & 0xFFFF,
                          (n * step) & 0xFFFFFFFF, ssrc) + payload[at:at + step]
        frame = _packet(rtp, n)
        usec = n * ptime_ms * 1000
        records.append(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame)) + frame)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")  # lab runs side by side share the cache
    partial.write_bytes(b"".join(records))
    partial.replace(path)
    return path


def tone_pcap(freq_hz: int = 440, seconds: float = 6.0, volume: float = 0.3, cache_dir: Path | None = None) -> Path:
    """A PCMU pcap of a ``freq_hz`` sine at ``volume`` (0-1 of full scale; 0: digital silence),
    made once by sox and kept under the lab's cache."""
    folder = (cache_dir or default_cache_dir()) / "pcap"
    path = folder / f"tone-{freq_hz}hz-{seconds:g}s-vol{volume:g}-pcmu.pcap"
    if path.exists():
        return path
    proc = subprocess.run(
        ["sox", "-D", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-e", "u-law", "-t", "raw", "-",
         "synth", f"{seconds:g}", "sine", str(freq_hz), "vol", f"{volume:g}"],
        capture_output=True, timeout=30, check=False)
    if proc.returncode != 0 or not proc.stdout:
        raise RuntimeError(f"sox could not make a tone: {proc.stderr.decode(errors='replace')[-300:]}")
    return write_rtp_pcap(path, proc.stdout, PCMU)


def rtp_packets(path: Path) -> Iterator[bytes]:
    """The RTP packets (header and payload) of a pcap's UDP records (Ethernet, IPv4)."""
    data = path.read_bytes()
    if len(data) < 24 or struct.unpack_from("<I", data)[0] != PCAP_MAGIC:
        raise ValueError(f"{path}: not a little-endian microsecond pcap")
    pos = 24
    while pos + 16 <= len(data):
        incl = struct.unpack_from("<I", data, pos + 8)[0]
        frame = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        if len(frame) < 14 + 20 + 8 + 12 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
            continue
        rtp = frame[14 + (frame[14] & 0x0F) * 4 + 8:]
        if len(rtp) >= 12 and rtp[0] >> 6 == 2:
            yield rtp


def rtp_payload_type(path: Path) -> int:
    """The RTP payload type of a pcap's first RTP packet."""
    for rtp in rtp_packets(path):
        return rtp[1] & 0x7F
    raise ValueError(f"{path}: no RTP packet found")


def rtp_audio(path: Path) -> tuple[int, bytes]:
    """(payload type, the G.711 bytes of every packet in order) of a pcap: what it sounds like."""
    packets = list(rtp_packets(path))
    if not packets:
        raise ValueError(f"{path}: no RTP packet found")
    return packets[0][1] & 0x7F, b"".join(p[12 + 4 * (p[0] & 0x0F):] for p in packets)
