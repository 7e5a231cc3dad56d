"""Two bridges on one Redis and one Asterisk: both dispatch and both hear every AMI event,
yet no caller is offered twice and no desk gets two callers; one killed, the other serves."""

from __future__ import annotations

import time

import pytest

from tests.lab_fixtures import wait_call, wait_until

pytestmark = pytest.mark.e2e


def _desk_timeline(phone) -> list[str]:
    return [line.split(" ")[0] for line in phone.log_lines() if line.startswith(("RINGING", "ANSWERED", "DESK", "CALLER"))]


def test_two_bridges_never_offer_a_caller_twice_nor_a_desk_two_callers(hotline, phones):
    hotline.start_bridge(index=1)
    desks = [phones.desk("desk-101", talk_ms=1200), phones.desk("desk-102", talk_ms=1200)]
    callers = [f"098800000{i}" for i in range(6)]
    for caller in callers:
        phones.citizen(caller, "1", stay_ms=60000)
        time.sleep(0.2)
    records = [wait_call(hotline, c, ("ended",), timeout=60) for c in callers]
    assert all(r["outcome"] == "answered" and r["ring_attempts"] == "1" for r in records), records

    routing = hotline.routing()
    offered = [e["call_id"] for e in routing.events(500) if e.get("type") == "offered"]
    assert sorted(offered) == sorted(r["call_id"] for r in records)  # each caller offered once
    rung = [line for phone in desks for line in phone.log_lines() if line.startswith("RINGING")]
    assert sorted(c for c in callers for line in rung if c in line) == sorted(callers)
    for phone in desks:  # one call at a time: ring, answer, hang up, and only then the next
        wait_until(lambda phone=phone: len(_desk_timeline(phone)) % 3 == 0, 5, "the desk phone's last hang-up")
        timeline = _desk_timeline(phone)
        assert timeline == ["RINGING", "ANSWERED", "DESK"] * (len(timeline) // 3), timeline
    # Both bridges were up and logged in to AMI; each event was applied once.
    for index in (0, 1):
        assert "AMI logged in" in hotline.bridge_log(index).read_text()
    answered = [e for e in routing.events(500) if e.get("type") == "answered"]
    assert len(answered) == len(callers)


def test_with_one_of_two_bridges_killed_the_other_serves_every_call(hotline, phones):
    hotline.start_bridge(index=1)
    phones.desk("desk-101", talk_ms=1000)
    hotline.kill_bridge(0)
    callers = ["0989000001", "0989000002", "0989000003"]
    for caller in callers:
        phones.citizen(caller, "1", stay_ms=60000)
        time.sleep(0.3)
    for caller in callers:
        rec = wait_call(hotline, caller, ("ended",), timeout=45)
        assert (rec["queue"], rec["desk"], rec["outcome"]) == ("police", "desk-101", "answered")
    assert "→ desk desk-101" in hotline.bridge_log(1).read_text()
