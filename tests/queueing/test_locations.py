"""location_add and the location trail of a caller number; pop_seen on the audit trail."""

from __future__ import annotations

import pytest

from queueing import Routing, RoutingRefused
from queueing.locations import Locations
from queueing.pops import PopAudit

T0 = 1_700_000_000_000
NUMBER = "+84912345678"


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


@pytest.fixture
def locations(redis_client):
    return Locations(redis_client)


def test_a_fix_is_kept_on_the_numbers_trail_and_told_to_its_call(routing, locations):
    routing.arrive("c-1", NUMBER, "PJSIP/a", now_ms=T0)
    routing.enqueue("c-1", "police", 1, choice="1", route_reason="chosen", now_ms=T0 + 2_000)
    reply = locations.add(NUMBER, 21.0285, 105.8542, 18, source="aml", method="GNSS", confidence=68,
                          at_ms=T0 + 3_000, now_ms=T0 + 4_000)
    assert reply == {"number": NUMBER, "at_ms": str(T0 + 3_000), "call_id": "c-1"}
    (fix,) = locations.trail(NUMBER)
    assert (fix.lat, fix.lon, fix.radius_m, fix.at_ms, fix.source, fix.method, fix.confidence) == (
        21.0285, 105.8542, 18.0, T0 + 3_000, "aml", "GNSS", 68.0)
    assert routing.call("c-1")["location_ms"] == str(T0 + 3_000)
    event = routing.events()[-1]
    assert (event["type"], event["call_id"], event["queue"], event["number"]) == ("location_added", "c-1", "police",
                                                                                NUMBER)


def test_a_fix_with_no_call_going_on_is_kept_for_the_next_one(routing, locations):
    assert locations.add(NUMBER, 10, 20, 50, source="network", now_ms=T0)["call_id"] == ""
    routing.arrive("c-1", NUMBER, "PJSIP/a", now_ms=T0 + 60_000)
    shown = locations.for_call(routing.call("c-1"), window_ms=3_600_000, now_ms=T0 + 90_000)
    assert [(f["lat"], f["age_ms"], f["source"]) for f in shown] == [(10.0, 90_000, "network")]
    # Outside the window it belongs to another moment: not shown with this call.
    assert locations.for_call(routing.call("c-1"), window_ms=30_000, now_ms=T0 + 90_000) == []


def test_the_trail_keeps_the_newest_20_fixes_newest_first(locations):
    for i in range(25):
        locations.add(NUMBER, i, i, 10, source="lab", at_ms=T0 + i * 1000, now_ms=T0 + 30_000)
    trail = locations.trail(NUMBER)
    assert [f.lat for f in trail] == [float(i) for i in range(24, 4, -1)]


def test_a_fix_taken_after_the_call_ended_is_not_shown_with_it(routing, locations):
    routing.arrive("c-1", NUMBER, "PJSIP/a", now_ms=T0)
    routing.hangup("c-1", 0, now_ms=T0 + 5_000)
    locations.add(NUMBER, 1, 2, 3, source="aml", at_ms=T0 + 2_000, now_ms=T0 + 9_000)
    locations.add(NUMBER, 4, 5, 6, source="aml", at_ms=T0 + 8_000, now_ms=T0 + 9_000)
    assert [f["lat"] for f in locations.for_call(routing.call("c-1"), window_ms=60_000, now_ms=T0 + 9_000)] == [1.0]


@pytest.mark.parametrize(("number", "args", "kwargs", "message"), [
    ("anonymous", (1, 2, 3), {}, 'number "anonymous" is not a caller number'),
    (NUMBER, (91, 2, 3), {}, "lat must be between -90 and 90, got 91.0"),
    (NUMBER, (1, -181, 3), {}, "lon must be between -180 and 180, got -181.0"),
    (NUMBER, (1, 2, -1), {}, "radius_m must be between 0 and 100000, got -1.0"),
    (NUMBER, (float("nan"), 2, 3), {}, 'lat must be a number, got "nan"'),
    (NUMBER, (1, 2, 3), {"source": "gps"}, 'source "gps" is not one of aml, network, caller, lab'),
    (NUMBER, (1, 2, 3), {"confidence": 101}, "confidence must be between 0 and 100"),
    (NUMBER, (1, 2, 3), {"at_ms": T0 + 3_600_000}, "at_ms must be between 0 and"),
    (NUMBER, (1, 2, 3), {"method": "x" * 41}, "method must be at most 40 printable characters"),
])
def test_bad_fixes_are_refused_naming_the_value_and_nothing_is_kept(routing, locations, number, args, kwargs,
                                                                      message):
    with pytest.raises(RoutingRefused, match=message):
        locations.add(number, *args, **({"source": "aml"} | kwargs), now_ms=T0)
    assert locations.trail(NUMBER) == []
    assert routing.events() == []


def test_pop_seen_goes_on_the_audit_trail_with_the_delay_since_the_offer(routing, redis_client):
    routing.register_desk("desk-101", "police", now_ms=T0)
    routing.set_desk_state("desk-101", "ready", now_ms=T0)
    routing.arrive("c-1", NUMBER, "PJSIP/a", now_ms=T0)
    routing.enqueue("c-1", "police", 1, choice="1", route_reason="chosen", now_ms=T0 + 1_000)
    assert routing.claim_next(["police"], 15_000, now_ms=T0 + 1_100).call_id == "c-1"
    pops = PopAudit(redis_client)
    first = pops.seen("c-1", "desk-101", browser_ms=T0 + 1_150, user="demo-police", now_ms=T0 + 1_180)
    assert (first["delay_ms"], first["first"]) == ("80", "1")
    again = pops.seen("c-1", "desk-101", browser_ms=T0 + 5_000, user="demo-police", now_ms=T0 + 5_000)
    assert again["first"] == "0"
    call = routing.call("c-1")
    assert (call["pop_seen_ms"], call["pop_seen_desk"], call["pop_delay_ms"]) == (str(T0 + 1_180), "desk-101", "80")
    seen = [e for e in routing.events() if e["type"] == "pop_seen"]
    assert [(e["call_id"], e["desk_id"], e["queue"], e["user"], e["browser_ms"], e["delay_ms"]) for e in seen] == [
        ("c-1", "desk-101", "police", "demo-police", str(T0 + 1_150), "80"),
        ("c-1", "desk-101", "police", "demo-police", str(T0 + 5_000), "3900")]


def test_pop_seen_of_an_unknown_call_is_refused(redis_client):
    with pytest.raises(RoutingRefused, match="unknown call c-9"):
        PopAudit(redis_client).seen("c-9", "desk-101", now_ms=T0)
