"""call_reprioritize: a supervisor moves a waiting caller; arrival order is kept."""

from __future__ import annotations

import pytest

from queueing import Routing, RoutingRefused

T0 = 1_700_000_000_000


@pytest.fixture
def routing(redis_client):
    r = Routing(redis_client)
    for i, priority in enumerate((1, 1, 2)):
        r.arrive(f"c-{i}", "0900", f"PJSIP/c-{i}", now_ms=T0 + i * 1_000)
        r.enqueue(f"c-{i}", "police", priority, now_ms=T0 + i * 1_000)
    return r


def test_a_caller_raised_to_the_top_goes_first(routing):
    result = routing.reprioritize("c-2", 0, set_by="supervisor-1", now_ms=T0 + 10_000)
    assert (result["priority"], result["previous_priority"], result["position"]) == ("0", "2", "1")
    assert routing.queue("police") == ["c-2", "c-0", "c-1"]
    event = routing.events(1)[-1]
    assert (event["type"], event["set_by"]) == ("call_reprioritized", "supervisor-1")


def test_a_caller_lowered_keeps_its_arrival_among_its_new_peers(routing):
    routing.reprioritize("c-0", 2, now_ms=T0 + 10_000)
    assert routing.queue("police") == ["c-1", "c-0", "c-2"]  # c-0 arrived before c-2


def test_a_ringing_caller_returns_at_its_new_place(routing):
    routing.register_desk("p-1", "police", now_ms=T0)
    routing.set_desk_state("p-1", "ready", now_ms=T0)
    assert routing.claim_next(["police"], 5_000, now_ms=T0 + 5_000).call_id == "c-0"
    assert routing.reprioritize("c-0", 3, now_ms=T0 + 6_000)["position"] == "0"
    routing.offer_failed("c-0", "p-1", "NOANSWER", 3, now_ms=T0 + 9_000)
    assert routing.queue("police") == ["c-1", "c-2", "c-0"]


@pytest.mark.parametrize(("call_id", "priority", "message"), [
    ("nope", 0, "unknown call nope"),
    ("c-0", 100, "priority must be between 0 and 99, got 100"),
    ("c-0", -1, "priority must be between 0 and 99, got -1"),
])
def test_bad_input_is_refused_and_changes_nothing(routing, call_id, priority, message):
    with pytest.raises(RoutingRefused, match=message):
        routing.reprioritize(call_id, priority, now_ms=T0)
    assert routing.queue("police") == ["c-0", "c-1", "c-2"]


def test_an_ended_call_has_no_priority_to_change(routing):
    routing.hangup("c-0", 0, now_ms=T0 + 5_000)
    with pytest.raises(RoutingRefused, match="call c-0 is abandoned; only a waiting caller"):
        routing.reprioritize("c-0", 0, now_ms=T0 + 6_000)
