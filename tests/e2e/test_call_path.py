"""The hotline call path on the real lab: SIPp citizens dial 112 on Asterisk 22, our IVR
(FastAGI) classifies them, Redis queues them, AMI delivers them to SIPp desk phones."""

from __future__ import annotations

import pytest

from tests.lab_fixtures import call_of, wait_call

pytestmark = pytest.mark.e2e


def _ms(rec: dict, key: str) -> int:
    assert rec.get(key), f"call record has no {key}: {rec}"
    return int(rec[key])


def test_each_agency_reaches_a_ready_desk_of_that_agency(hotline, phones):
    desks = {"police": "desk-101", "fire": "desk-201", "medical": "desk-301", "disaster": "desk-401"}
    desk_phones = {agency: phones.desk(desk_id, talk_ms=1500) for agency, desk_id in desks.items()}
    callers = {"police": ("0911000001", "1"), "fire": ("0911000002", "2"),
               "medical": ("0911000003", "3"), "disaster": ("0911000004", "4")}
    for caller, digit in callers.values():
        phones.citizen(caller, digit)

    for agency, (caller, digit) in callers.items():
        rec = wait_call(hotline, caller, ("ended",), timeout=40)
        assert rec["queue"] == agency
        assert rec["choice"] == digit
        assert rec["route_reason"] == "chosen"
        assert rec["desk"] == desks[agency]
        assert rec["outcome"] == "answered"
        assert _ms(rec, "arrived_ms") <= _ms(rec, "queued_ms") <= _ms(rec, "offered_ms") <= _ms(rec, "answered_ms") <= _ms(rec, "ended_ms")
        # What the call-taker's phone showed: the caller's number and the emergency type.
        label = hotline.city.agency(agency).label
        seen = desk_phones[agency].wait_for(rf"RINGING from=\s*\"{label}\" <sip:{caller}@", 1)
        assert seen, f"{desks[agency]} never showed {label} {caller}: {desk_phones[agency].log_lines()}"


def test_silent_caller_reaches_a_general_desk(hotline, phones):
    desk = phones.desk("desk-201", talk_ms=1000)  # a fire desk also serves the general queue
    phones.citizen("0922000001", "", stay_ms=40000)
    rec = wait_call(hotline, "0922000001", ("ended",), timeout=45)
    assert rec["queue"] == "general"
    assert rec["route_reason"] == "no_input"
    assert rec["priority"] == "0"
    assert rec["desk"] == "desk-201"
    assert desk.wait_for(r'RINGING from=\s*"EMERGENCY" <sip:0922000001@', 1)


def test_invalid_digit_then_silence_reaches_a_desk(hotline, phones):
    phones.desk("desk-301", talk_ms=1000)
    phones.citizen("0922000002", "9", stay_ms=40000)
    rec = wait_call(hotline, "0922000002", ("ended",), timeout=45)
    assert rec["queue"] == "general"
    assert rec["desk"] == "desk-301"
    assert rec["outcome"] == "answered"
    assert rec["choice"] == "9"


def test_caller_who_hangs_up_while_queued_is_abandoned_and_called_back(hotline, phones):
    # No desk is ready: the caller waits with music, then gives up.
    citizen = phones.citizen("0933000001", "1", stay_ms=4000)
    rec = wait_call(hotline, "0933000001", ("abandoned",), timeout=30)
    assert citizen.wait_for("CITIZEN HUNG UP", 1)
    assert rec["abandon_stage"] == "queued"
    assert rec["queue"] == "police"
    assert _ms(rec, "wait_ms") >= 3000
    routing = hotline.routing()
    assert routing.queue("police") == []
    assert rec["call_id"] in routing.callbacks("police")


def test_two_callers_one_desk_are_served_in_arrival_order_after_wrap_up(hotline, phones):
    desk = phones.desk("desk-101", talk_ms=2000)
    phones.citizen("0944000001", "1", stay_ms=40000)
    first = wait_call(hotline, "0944000001", ("queued", "ringing", "on_call", "ended"), timeout=20)
    phones.citizen("0944000002", "1", stay_ms=40000)
    a = wait_call(hotline, "0944000001", ("ended",), timeout=30)
    b = wait_call(hotline, "0944000002", ("ended",), timeout=40)
    assert first["call_id"] == a["call_id"]
    assert a["desk"] == b["desk"] == "desk-101"
    assert _ms(a, "queued_ms") < _ms(b, "queued_ms")
    assert _ms(a, "answered_ms") < _ms(b, "answered_ms")
    wrap_up_ms = hotline.city.queueing.wrap_up_s * 1000
    # The second caller was rung only after the first call ended and the wrap-up passed.
    assert _ms(b, "offered_ms") >= _ms(a, "ended_ms") + wrap_up_ms
    rings = [ln for ln in desk.log_lines() if "RINGING from=" in ln]
    assert len(rings) == 2 and "0944000001" in rings[0] and "0944000002" in rings[1]


def test_with_the_bridge_down_a_call_still_rings_a_desk(hotline, phones):
    desk = phones.desk("desk-102", talk_ms=8000)
    hotline.kill_bridge()
    try:
        citizen = phones.citizen("0955000001", "", stay_ms=30000)
        assert desk.wait_for(r"RINGING from=.*0955000001", 20), desk.log_lines()
        assert citizen.wait_for("ANSWERED", 5)
        assert desk.wait_for("ANSWERED", 5)
        assert call_of(hotline, "0955000001") == {}  # nobody could write a record yet
    finally:
        hotline.start_bridge()
    # Back up, the bridge finds the call in Asterisk's fallback queue and records it; when
    # the call ends, the record is closed.
    rec = wait_call(hotline, "0955000001", ("fallback",), timeout=10)
    assert rec["fallback_reason"] == "found-in-fallback"
    rec = wait_call(hotline, "0955000001", ("ended",), timeout=20)
    assert rec["outcome"] == "fallback"


def test_a_police_caller_overflows_to_a_cross_trained_fire_desk(hotline, phones):
    phones.desk("desk-101", ready=False)
    hotline.routing().set_desk_state("desk-101", "login")  # logged in, not ready
    desk = phones.desk("desk-201", talk_ms=1000)  # fire, cross-trained for police
    phones.citizen("0977000001", "1", stay_ms=40000)
    rec = wait_call(hotline, "0977000001", ("ended",), timeout=30)
    assert (rec["queue"], rec["desk"], rec["outcome"]) == ("police", "desk-201", "answered")
    overflow_ms = hotline.city.agency("police").overflow_after_s * 1000
    assert _ms(rec, "offered_ms") - _ms(rec, "arrived_ms") >= overflow_ms
    assert desk.wait_for(r'RINGING from=\s*"POLICE" <sip:0977000001@', 1)


def test_no_secret_reaches_a_log(hotline, phones):
    phones.desk("desk-101", talk_ms=500)
    phones.citizen("0978000001", "1", stay_ms=20000)
    wait_call(hotline, "0978000001", ("ended",), timeout=30)
    secrets = [hotline.site.ami_secret, *hotline.site.desk_passwords.values()]
    logs = [p for p in hotline.workdir.glob("*.log")] + [hotline.asterisk.log_file]
    assert logs
    for log in logs:
        text = log.read_text(errors="replace")
        assert not [s for s in secrets if s in text], f"a secret appears in {log}"
