"""The lab phones' audio: the RTP pcaps (a sox tone written as Ethernet/IPv4/UDP/RTP records,
sip-tester's voice) and the SIPp scenarios that play them once answered, offering their codec."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

from hotline.lab.rtp_pcap import VOICE_PCAP, rtp_audio, rtp_packets, rtp_payload_type, tone_pcap
from hotline.lab.sipp_scenarios import SDP_OFFER, citizen_scenario, desk_incoming_scenario, sdp_offer


def rms(audio: bytes, encoding: str) -> float:
    proc = subprocess.run(["sox", "-t", "raw", "-r", "8000", "-e", encoding, "-c", "1", "-", "-n", "stat"],
                          input=audio, capture_output=True, timeout=30, check=True)
    found = re.search(rb"RMS\s+amplitude:\s+([0-9.]+)", proc.stderr)
    assert found
    return float(found.group(1))


def test_a_tone_pcap_is_pcmu_rtp_every_20_ms_as_loud_as_asked(tmp_path):
    path = tone_pcap(440, seconds=2.0, volume=0.3, cache_dir=tmp_path)
    assert path.parent == tmp_path / "pcap"
    assert tone_pcap(440, seconds=2.0, volume=0.3, cache_dir=tmp_path) == path  # made once
    packets = list(rtp_packets(path))
    assert len(packets) == 100
    assert [p[1] & 0x7F for p in packets] == [0] * 100
    assert packets[0][1] & 0x80 and not packets[1][1] & 0x80  # marker on the first only
    assert [int.from_bytes(p[2:4], "big") for p in packets[:3]] == [0, 1, 2]
    assert [int.from_bytes(p[4:8], "big") for p in packets[:3]] == [0, 160, 320]
    payload_type, audio = rtp_audio(path)
    assert (payload_type, len(audio)) == (0, 16000)
    assert rms(audio, "u-law") == pytest.approx(0.3 / 2 ** 0.5, rel=0.05)
    # tcpdump/libpcap reads it as what it is (scripts/bootstrap.sh installs tcpdump, sox and sip-tester)
    out = subprocess.run(["tcpdump", "-nr", str(path), "-c", "1"], capture_output=True, text=True, check=False)
    assert "UDP, length 172" in out.stdout, out.stderr


def test_a_silent_tone_pcap_is_digital_silence(tmp_path):
    _, audio = rtp_audio(tone_pcap(440, seconds=1.0, volume=0.0, cache_dir=tmp_path))
    assert rms(audio, "u-law") == 0.0


def test_sip_testers_voice_is_pcma_speech():
    payload_type, audio = rtp_audio(VOICE_PCAP)
    assert payload_type == rtp_payload_type(VOICE_PCAP) == 8
    assert len(audio) / 8000 == pytest.approx(7.08, abs=0.05)
    assert rms(audio, "a-law") > 0.01


def test_the_sdp_offers_the_codec_of_the_audio():
    assert sdp_offer(0) is SDP_OFFER
    pcma = sdp_offer(8)
    assert "m=audio [media_port] RTP/AVP 8 101" in pcma and "a=rtpmap:8 PCMA/8000" in pcma
    assert "PCMU" not in pcma and "a=rtpmap:101 telephone-event/8000" in pcma
    with pytest.raises(ValueError):
        sdp_offer(18)


def _steps(xml: str) -> list[str]:
    """The scenario's steps, each as its tag and what it plays, sends or receives."""
    out = []
    for el in ET.fromstring(xml):
        exe = el.find("action/exec")
        if exe is not None:
            out.append(f"play {exe.get('play_pcap_audio')}")
        elif el.tag in ("recv", "send"):
            text = (el.text or "").strip().splitlines()
            out.append(f"{el.tag} {el.get('request') or el.get('response') or text[0].split(' ')[0]}")
    return out


def test_without_audio_the_phones_send_none_but_keys(tmp_path):
    citizen = citizen_scenario("0911", "1")
    assert "RTP/AVP 0 101" in citizen
    assert [s for s in _steps(citizen) if s.startswith("play")] == ["play /usr/share/sip-tester/dtmf_2833_1.pcap"]
    assert "play_pcap_audio" not in desk_incoming_scenario()


def test_a_citizen_speaks_after_its_keys_and_offers_pcma(tmp_path):
    voice = tmp_path / "v.pcap"
    xml = citizen_scenario("0911", "1", voice=voice, voice_after_ms=2500, voice_payload_type=8, stay_ms=30000)
    steps = _steps(xml)
    assert steps.index("play /usr/share/sip-tester/dtmf_2833_1.pcap") < steps.index(f"play {voice}") \
        < steps.index("recv BYE")
    assert "RTP/AVP 8 101" in xml and 'pause milliseconds="2500"' in xml
    assert 'recv request="BYE" timeout="27500"' in xml  # the voice's wait counts in the stay


def test_a_desk_plays_its_audio_once_the_call_is_answered(tmp_path):
    tone = tmp_path / "t.pcap"
    xml = desk_incoming_scenario(talk_ms=9000, audio=tone, audio_payload_type=0)
    steps = _steps(xml)
    assert steps.index("recv ACK") < steps.index(f"play {tone}") < steps.index("recv BYE")
    assert "AUDIO at [clock_tick]" in xml and "RTP/AVP 0 101" in xml
    # A desk that only rings or rejects plays nothing.
    assert "play_pcap_audio" not in desk_incoming_scenario(answer=False, audio=tone)
    assert "play_pcap_audio" not in desk_incoming_scenario(reject=True, audio=tone)


@pytest.mark.parametrize(("after_ms", "pauses"), [(0, []), (50, ["50"]), (1500, ["1500"])])
def test_a_citizens_first_key_follows_the_ack_by_the_delay_asked(after_ms, pauses):
    steps = list(ET.fromstring(citizen_scenario("0911", "1", first_digit_after_ms=after_ms)))
    ack = next(i for i, el in enumerate(steps) if el.tag == "send" and (el.text or "").strip().startswith("ACK"))
    key = next(i for i, el in enumerate(steps) if el.find("action/exec") is not None)
    # 0 ms: the key is the step right after the ACK (no pause at all)
    assert [el.get("milliseconds") for el in steps[ack + 1:key]] == pauses
    assert all(el.tag == "pause" for el in steps[ack + 1:key])
