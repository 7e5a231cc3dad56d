"""call_to_idle_desk ([ivr] mode human_first): a caller skips the menu only when a desk is
idle and nobody waits, checked and queued in one step."""

from __future__ import annotations

import pytest

from queueing import Routing, RoutingRefused
from queueing.numbers import Numbers
from queueing.states import PriorityReason, RouteReason

T0 = 1_700_000_000_000
AGENCIES = ["police", "fire", "medical"]
GENERAL_PRIORITY = 0


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


def arrive(routing, call_id, at=0):
    routing.arrive(call_id, "+15550100", f"PJSIP/trunk-{call_id}", now_ms=T0 + at)


def ready_desk(routing, desk_id, agency):
    routing.register_desk(desk_id, agency, now_ms=T0)
    routing.set_desk_state(desk_id, "ready", now_ms=T0)


def to_idle_desk(routing, call_id, at=100):
    return routing.to_idle_desk(call_id, GENERAL_PRIORITY, AGENCIES, now_ms=T0 + at)


@pytest.mark.parametrize(
    ("desks", "waiting", "skips_menu"),
    [
        # (desk id, agency, state); waiting: (call id, queue) already queued
        ([], [], False),                                                  # no desk logged in
        ([("p-1", "police", "paused")], [], False),                       # a desk, but not idle
        ([("p-1", "police", "ready")], [], True),                         # idle desk, nobody waiting
        ([("m-1", "medical", "ready")], [], True),                        # any agency's desk will do
        ([("p-1", "police", "ready")], [("c-0", "fire")], False),        # someone waits (another agency)
        ([("p-1", "police", "ready")], [("c-0", "general")], False),     # someone waits in general
        ([("p-1", "police", "ready"), ("f-1", "fire", "paused")], [], True),
    ],
)
def test_the_menu_is_skipped_only_for_an_idle_desk_and_an_empty_line(routing, desks, waiting, skips_menu):
    for desk_id, agency, state in desks:
        routing.register_desk(desk_id, agency, now_ms=T0)
        routing.set_desk_state(desk_id, "ready", now_ms=T0)
        if state != "ready":
            routing.set_desk_state(desk_id, state, reason="meal", now_ms=T0)
    for call_id, queue in waiting:
        arrive(routing, call_id)
        routing.enqueue(call_id, queue, 1, now_ms=T0)
    arrive(routing, "c-1", at=50)

    queued = to_idle_desk(routing, "c-1")

    call = routing.call("c-1")
    if skips_menu:
        assert queued is not None and queued.queue == "general" and queued.position == 1
        assert call["state"] == "queued"
        assert call["route_reason"] == RouteReason.DESK_FREE
        assert call["priority_reason"] == PriorityReason.NO_CHOICE
        assert call["choice"] == ""
        assert call["priority"] == str(GENERAL_PRIORITY)
        assert call["ivr_ms"] == "50"  # the clock started at arrival
        event = [e for e in routing.events() if e["type"] == "call_queued"][-1]
        assert event["call_id"] == "c-1" and event["route_reason"] == RouteReason.DESK_FREE
    else:
        assert queued is None
        assert call["state"] == "ivr" and call["queue"] == ""
        assert "c-1" not in {e.get("call_id") for e in routing.events() if e["type"] == "call_queued"}


def test_a_caller_who_skipped_the_menu_is_claimed_by_the_idle_desk(routing):
    ready_desk(routing, "m-1", "medical")
    arrive(routing, "c-1")
    to_idle_desk(routing, "c-1")
    claim = routing.claim_next(AGENCIES, 12_000, now_ms=T0 + 200)
    assert claim is not None and (claim.call_id, claim.desk_id, claim.queue) == ("c-1", "m-1", "general")


def test_the_second_caller_at_once_hears_the_menu(routing):
    # Two callers arriving together and one idle desk: the first takes it, the second is not
    # put behind it in general without a choice; it gets the menu.
    ready_desk(routing, "p-1", "police")
    arrive(routing, "c-1")
    arrive(routing, "c-2")
    assert to_idle_desk(routing, "c-1") is not None
    assert to_idle_desk(routing, "c-2") is None
    assert routing.call("c-2")["state"] == "ivr"


def test_a_number_policy_applies_as_for_any_queued_caller(routing, redis_client):
    ready_desk(routing, "p-1", "police")
    Numbers(redis_client).set_policy("+15550100", "lower_priority", priority_delta=2, set_by="sup", now_ms=T0)
    arrive(routing, "c-1")
    to_idle_desk(routing, "c-1")
    call = routing.call("c-1")
    assert call["priority"] == str(GENERAL_PRIORITY + 2) and call["policy_applied"] == "lower_priority"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("c-9", 0, AGENCIES), "unknown call c-9"),
        (("c-1", 0, []), "needs at least one agency"),
        (("c-1", 0, ["general"]), '"general" is a queue, not an agency'),
        (("c-1", 100, AGENCIES), "priority"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(routing, args, message):
    ready_desk(routing, "p-1", "police")
    arrive(routing, "c-1")
    with pytest.raises(RoutingRefused, match=message):
        routing.to_idle_desk(*args, now_ms=T0 + 10)
    assert routing.call("c-1")["state"] == "ivr"


def test_a_caller_already_queued_is_refused(routing):
    ready_desk(routing, "p-1", "police")
    arrive(routing, "c-1")
    routing.enqueue("c-1", "police", 1, now_ms=T0)
    with pytest.raises(RoutingRefused, match="c-1 is queued; only a call in the ivr can be queued"):
        to_idle_desk(routing, "c-1")
