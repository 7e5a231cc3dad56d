"""call_spoke: a caller who speaks in the menu without a key goes to the general queue at
the top priority, once, and only while still in the menu."""

from __future__ import annotations

import json

import pytest

from queueing import Routing, RoutingRefused
from queueing.numbers import Numbers
from queueing.states import CallState, PriorityReason, RouteReason

T0 = 1_700_000_000_000
GENERAL_PRIORITY = 0


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


def arrive(routing, call_id, at=0):
    routing.arrive(call_id, "+15550100", f"PJSIP/trunk-{call_id}", now_ms=T0 + at)


def test_a_caller_who_spoke_goes_to_the_general_queue_at_the_top(routing):
    arrive(routing, "c-0")
    routing.enqueue("c-0", "general", 5, now_ms=T0 + 10)  # a caller already waiting, lower priority
    arrive(routing, "c-1", at=100)

    queued = routing.spoke("c-1", GENERAL_PRIORITY, 1500, now_ms=T0 + 3100)

    assert queued is not None and (queued.queue, queued.position) == ("general", 1)
    call = routing.call("c-1")
    assert call["state"] == CallState.QUEUED
    assert (call["route_reason"], call["priority_reason"]) == (RouteReason.SPOKE, PriorityReason.NO_CHOICE)
    assert (call["queue"], call["priority"], call["choice"]) == ("general", "0", "")
    assert call["ivr_ms"] == "3000"  # the clock started at arrival
    assert json.loads(call["ivr_path"]) == [{"key": "", "result": "spoke", "at_ms": 3000, "speech_ms": 1500}]
    event = [e for e in routing.events() if e["type"] == "call_queued"][-1]
    assert (event["call_id"], event["route_reason"]) == ("c-1", RouteReason.SPOKE)


@pytest.mark.parametrize(
    ("before", "state"),
    [
        ("key", CallState.QUEUED),         # a key already routed the caller: the key wins
        ("spoke", CallState.QUEUED),       # another bridge's detector decided first
        ("claimed", CallState.RINGING),    # and a desk already claimed the caller
        ("hung_up", CallState.ABANDONED),  # the caller is gone
    ],
)
def test_a_call_no_longer_in_the_menu_is_left_as_it_is(routing, before, state):
    arrive(routing, "c-1")
    if before == "key":
        routing.enqueue("c-1", "police", 2, choice="1", route_reason="chosen", now_ms=T0 + 1000)
    elif before in ("spoke", "claimed"):
        routing.spoke("c-1", GENERAL_PRIORITY, 1600, now_ms=T0 + 1000)
        if before == "claimed":
            routing.register_desk("d-1", "police", now_ms=T0)
            routing.set_desk_state("d-1", "ready", now_ms=T0)
            assert routing.claim_next(["police"], 12_000, now_ms=T0 + 1100) is not None
    else:
        routing.hangup("c-1", 0, now_ms=T0 + 1000)
    record = routing.call("c-1")
    events = len(routing.events())

    assert routing.spoke("c-1", GENERAL_PRIORITY, 1500, now_ms=T0 + 2000) is None

    assert routing.call("c-1") == record
    assert record["state"] == state
    assert len(routing.events()) == events


def test_a_number_policy_applies_as_for_any_queued_caller(routing, redis_client):
    Numbers(redis_client).set_policy("+15550100", "lower_priority", priority_delta=3, set_by="sup", now_ms=T0)
    arrive(routing, "c-1")
    routing.spoke("c-1", GENERAL_PRIORITY, 1500, now_ms=T0 + 2000)
    call = routing.call("c-1")
    assert (call["priority"], call["policy_applied"], call["route_reason"]) == ("3", "lower_priority", "spoke")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("c-9", 0, 1500), "unknown call c-9"),
        (("c-1", 100, 1500), "priority"),
        (("c-1", 0, -1), "speech_ms"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(routing, args, message):
    arrive(routing, "c-1")
    with pytest.raises(RoutingRefused, match=message):
        routing.spoke(*args, now_ms=T0 + 10)
    assert routing.call("c-1")["state"] == CallState.IVR
