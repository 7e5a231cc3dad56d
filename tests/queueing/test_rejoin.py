"""call_rejoin: a caller Asterisk's fallback queue held comes back at its original place."""

from __future__ import annotations

import pytest

from queueing import Routing, RoutingRefused

T0 = 1_700_000_000_000


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


def test_a_caller_who_chose_returns_to_its_queue_with_its_score(routing):
    routing.arrive("c-1", "0900", "PJSIP/c-1", now_ms=T0)
    routing.enqueue("c-1", "police", 1, choice="1", now_ms=T0 + 3_000)
    score = routing.call("c-1")["queue_score"]
    routing.fallback("c-1", reason="bridge-silent", now_ms=T0 + 10_000)
    routing.arrive("c-2", "0901", "PJSIP/c-2", now_ms=T0 + 5_000)
    routing.enqueue("c-2", "police", 1, now_ms=T0 + 6_000)

    assert routing.rejoin("c-1", queue="general", priority=0, now_ms=T0 + 20_000) == 1
    call = routing.call("c-1")
    assert (call["state"], call["queue"], call["queue_score"]) == ("queued", "police", score)
    assert routing.queue("police") == ["c-1", "c-2"]  # ahead of the later caller


def test_a_caller_who_never_chose_goes_to_the_given_queue_by_arrival(routing):
    routing.arrive("c-1", "0900", "PJSIP/c-1", now_ms=T0)
    routing.fallback("c-1", reason="agi-FAILURE-none", now_ms=T0 + 1_000)
    routing.rejoin("c-1", queue="general", priority=0, now_ms=T0 + 20_000)
    call = routing.call("c-1")
    assert (call["state"], call["queue"], call["priority"], call["route_reason"]) == ("queued", "general", "0", "rejoined")
    assert call["queue_score"] == str(T0)  # priority 0, ranked by arrival
    assert routing.events(5)[-1]["type"] == "call_rejoined"


@pytest.mark.parametrize("state", ["ivr", "queued"])
def test_only_a_fallback_call_can_rejoin(routing, state):
    routing.arrive("c-1", "0900", "PJSIP/c-1", now_ms=T0)
    if state == "queued":
        routing.enqueue("c-1", "police", 1, now_ms=T0)
    with pytest.raises(RoutingRefused, match=f"call c-1 is {state}; only a fallback call can rejoin"):
        routing.rejoin("c-1", queue="general", priority=0, now_ms=T0)
