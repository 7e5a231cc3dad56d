"""A caller who speaks in the menu instead of pressing a key reaches a person (issue 11), on
the real lab: SIPp citizens send espeak-ng sentences (or noise, or silence) as RTP, Asterisk's
TALK_DETECT hears them, the bridge's detector (telephony/speech.py) queues the caller with
call_spoke, and a desk answers."""

from __future__ import annotations

import json

import pytest

from hotline.lab.speech_audio import Sound, sound_pcap
from tests.lab_fixtures import call_of, wait_call, wait_until

pytestmark = pytest.mark.e2e

SPEECH = {lang: Sound(lang) for lang in ("vi", "en")}
SHOUT = Sound("vi", 200, 60, 8, "pink", 10)  # fast, high, loud, in street noise


def caller_context(hotline, caller: str) -> str:
    """The dialplan context the caller's channel is in now ("" when it has none)."""
    for row in hotline.asterisk.cli("core show channels concise").stdout.splitlines():
        fields = row.split("!")
        if len(fields) > 7 and fields[7] == caller:
            return fields[1]
    return ""


def assert_spoke(rec: dict) -> None:
    assert (rec["queue"], rec["route_reason"], rec["priority"], rec["choice"]) == ("general", "spoke", "0", ""), rec
    assert rec["priority_reason"] == "no_choice", rec
    steps = json.loads(rec["ivr_path"])
    assert [s["result"] for s in steps] == ["spoke"], rec
    assert steps[0]["speech_ms"] >= 1500, rec  # [ivr] speech_to_human_s of the e2e city


@pytest.mark.parametrize(("sound", "caller"), [(SPEECH["vi"], "0933000001"), (SPEECH["en"], "0933000002"),
                                               (SHOUT, "0933000003")], ids=["vi", "en", "shout-in-noise"])
def test_a_caller_who_speaks_and_presses_nothing_is_answered_at_a_desk(hotline, phones, sound, caller):
    desk = phones.desk("desk-201", talk_ms=1000)  # a fire desk also serves the general queue
    phones.citizen(caller, "", voice=sound_pcap(sound), voice_after_ms=300, voice_first=True, stay_ms=40_000)
    rec = wait_call(hotline, caller, ("ended",), timeout=40)
    assert_spoke(rec)
    # Taken from the menu by the desk's Redirect: an answered call, not a caller who hung up in the IVR.
    assert (rec["desk"], rec["outcome"]) == ("desk-201", "answered"), rec
    assert desk.wait_for(rf'RINGING from=\s*"EMERGENCY" <sip:{caller}@', 1)


def test_with_no_desk_free_a_caller_who_spoke_leaves_the_menu_for_the_wait_and_keeps_its_place(hotline, phones):
    phones.citizen("0933100001", "", voice=sound_pcap(SPEECH["en"]), voice_after_ms=300, voice_first=True,
                   stay_ms=60_000)
    rec = wait_call(hotline, "0933100001", ("queued",), timeout=30)
    assert_spoke(rec)
    # Not left hearing the menu over and over: the IVR lets the caller go to the wait.
    wait_until(lambda: caller_context(hotline, "0933100001") == "hotline-wait", 20, "the caller in hotline-wait")
    assert call_of(hotline, "0933100001")["state"] == "queued"
    phones.desk("desk-301", talk_ms=1000)
    rec = wait_call(hotline, "0933100001", ("ended",), timeout=30)
    assert (rec["route_reason"], rec["desk"], rec["outcome"]) == ("spoke", "desk-301", "answered"), rec


NOT_SPEECH = {
    "silence": Sound(seconds=12),
    "pink-noise": Sound(noise="pink", noise_db=-40, seconds=12),
    "breathing": Sound(noise="breath", noise_db=-35, seconds=12),
}


def test_noise_or_silence_is_not_speech(hotline, phones):
    # No desk: each caller stays queued where the menu's no-input path sent it.
    callers = {f"093320000{i}": sound for i, sound in enumerate(NOT_SPEECH.values())}
    for caller, sound in callers.items():
        phones.citizen(caller, "", voice=sound_pcap(sound), voice_after_ms=0, voice_first=True, stay_ms=60_000)
    for caller, sound in callers.items():
        rec = wait_call(hotline, caller, ("queued",), timeout=45)
        assert (rec["queue"], rec["route_reason"]) == ("general", "no_input"), (sound.name, rec)


def test_a_caller_who_presses_a_key_while_speaking_goes_to_its_agency(hotline, phones):
    # The key comes 900 ms into the sentence, before the detector could decide.
    phones.citizen("0933300001", "3", voice=sound_pcap(SPEECH["vi"]), voice_after_ms=300, voice_first=True,
                   first_digit_after_ms=900, stay_ms=40_000)
    rec = wait_call(hotline, "0933300001", ("queued",), timeout=30)
    assert (rec["queue"], rec["choice"], rec["route_reason"]) == ("medical", "3", "chosen"), rec
    # The speech went on after the key: still the agency's caller.
    wait_until(lambda: caller_context(hotline, "0933300001") == "hotline-wait", 20, "the caller in hotline-wait")
    rec = call_of(hotline, "0933300001")
    assert (rec["queue"], rec["route_reason"]) == ("medical", "chosen"), rec


def test_with_two_bridges_each_caller_who_spoke_is_queued_once_and_rung_once(hotline, phones):
    # Both bridges hear every talking event and both detectors decide; call_spoke acts once.
    hotline.start_bridge(index=1)
    phones.desk("desk-401", talk_ms=800)
    callers = {"0933400001": SPEECH["vi"], "0933400002": SPEECH["en"], "0933400003": SHOUT}
    for caller, sound in callers.items():
        phones.citizen(caller, "", voice=sound_pcap(sound), voice_after_ms=300, voice_first=True, stay_ms=60_000)
    records = {caller: wait_call(hotline, caller, ("ended",), timeout=60) for caller in callers}
    for rec in records.values():
        assert_spoke(rec)
        assert (rec["desk"], rec["outcome"], rec["ring_attempts"]) == ("desk-401", "answered", "1"), rec
    events = hotline.routing().events(500)
    for rec in records.values():
        assert [e["type"] for e in events if e.get("call_id") == rec["call_id"] and e["type"] in
                ("call_queued", "offered")] == ["call_queued", "offered"], rec["call_id"]
    logs = hotline.bridge_log(0).read_text() + hotline.bridge_log(1).read_text()
    for rec in records.values():
        assert logs.count(f"call {rec['call_id']} spoke") == 1, rec["call_id"]
