"""call_arrive and call_enqueue: the call record and its place in a queue."""

from __future__ import annotations

import pytest

from queueing import Keys, Routing, RoutingRefused, queue_score
from queueing.numbers import Numbers

T0 = 1_700_000_000_000
CALL_FIELDS = {
    "call_id", "caller", "channel", "state", "arrived_ms", "language", "queue", "choice",
    "priority", "route_reason", "queued_ms", "queue_score", "desk", "offered_ms", "answered_ms",
    "ended_ms", "outcome", "abandon_stage", "wait_ms", "ring_attempts", "last_ring_status",
    "fallback_reason", "previous_call_id", "repeat_count", "policy_applied",
}


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


def test_arrive_creates_a_full_record_in_the_ivr(routing, redis_client):
    assert routing.arrive("c-1", "+15550100", "PJSIP/trunk-0001", language="fr", now_ms=T0) is None

    call = routing.call("c-1")
    assert set(call) == CALL_FIELDS
    assert call["state"] == "ivr"
    assert call["caller"] == "+15550100"
    assert call["channel"] == "PJSIP/trunk-0001"
    assert call["language"] == "fr"
    assert call["arrived_ms"] == str(T0)
    assert call["ring_attempts"] == "0"
    assert call["queue"] == call["desk"] == call["outcome"] == ""
    keys = Keys()
    assert redis_client.zscore(keys.calls(), "c-1") == T0
    assert redis_client.sismember(keys.calls_active(), "c-1")


def test_withheld_number_is_accepted(routing):
    routing.arrive("c-1", "", "PJSIP/trunk-0001", now_ms=T0)
    assert routing.call("c-1")["caller"] == ""


@pytest.mark.parametrize(
    ("call_id", "channel", "message"),
    [
        ("", "PJSIP/x", "call_id is required"),
        ("bad id", "PJSIP/x", 'call_id "bad id" is not a valid id'),
        ("c-2", "", "channel is required for call c-2"),
    ],
)
def test_arrive_refuses_bad_input(routing, call_id, channel, message):
    with pytest.raises(RoutingRefused, match=message):
        routing.arrive(call_id, "+15550100", channel, now_ms=T0)
    assert routing.events() == []


def test_arrive_refuses_a_duplicate_and_keeps_the_first_record(routing):
    routing.arrive("c-1", "+15550100", "PJSIP/a", now_ms=T0)
    with pytest.raises(RoutingRefused, match=r"^call c-1 already exists \(state ivr\)$"):
        routing.arrive("c-1", "+15550199", "PJSIP/b", now_ms=T0 + 1)
    assert routing.call("c-1")["channel"] == "PJSIP/a"


def test_now_ms_must_be_an_integer(routing):
    with pytest.raises(RoutingRefused, match="now_ms must be a non-negative integer, got 12.5"):
        routing.arrive("c-1", "+15550100", "PJSIP/a", now_ms=12.5)


def test_enqueue_records_choice_priority_and_score(routing):
    routing.arrive("c-1", "+15550100", "PJSIP/a", now_ms=T0)
    enqueued = routing.enqueue("c-1", "police", 1, choice="1", route_reason="menu",
                               now_ms=T0 + 8_000)

    assert (enqueued.call_id, enqueued.queue, enqueued.position) == ("c-1", "police", 1)
    # The score counts from arrival at the hotline, not from the end of the menu.
    assert enqueued.queue_score == queue_score(1, T0)
    call = routing.call("c-1")
    assert (call["state"], call["queue"], call["choice"], call["priority"]) == (
        "queued", "police", "1", "1")
    assert call["route_reason"] == "menu"
    assert call["queued_ms"] == str(T0 + 8_000)
    assert routing.queue("police") == ["c-1"]


def test_queue_order_is_priority_then_arrival(routing):
    # (call, arrival offset, priority), enqueued in a shuffled order.
    callers = [("late-urgent", 500, 0), ("early-normal", 100, 2), ("early-urgent", 200, 0),
               ("mid-high", 300, 1), ("first-normal", 50, 2)]
    for call_id, offset, _ in callers:
        routing.arrive(call_id, "+15550100", f"PJSIP/{call_id}", now_ms=T0 + offset)
    positions = {}
    for call_id, _offset, priority in reversed(callers):
        positions[call_id] = routing.enqueue(call_id, "fire", priority, now_ms=T0 + 1_000).position

    assert routing.queue("fire") == [
        "early-urgent", "late-urgent", "mid-high", "first-normal", "early-normal"]
    # Position at the moment each caller joined.
    assert positions == {"first-normal": 1, "mid-high": 1, "early-urgent": 1,
                         "early-normal": 4, "late-urgent": 2}


@pytest.mark.parametrize(
    ("queue", "priority", "message"),
    [
        ("police", -1, "priority must be between 0 and 99, got -1"),
        ("police", 100, "priority must be between 0 and 99, got 100"),
        ("police", "high", "priority must be an integer, got high"),
        ("", 1, "queue is required"),
        ("po lice", 1, 'queue "po lice" is not a valid id'),
    ],
)
def test_enqueue_refuses_bad_input_without_writing(routing, queue, priority, message):
    routing.arrive("c-1", "+15550100", "PJSIP/a", now_ms=T0)
    with pytest.raises(RoutingRefused, match=message):
        routing.enqueue("c-1", queue, priority, now_ms=T0)
    assert routing.call("c-1")["state"] == "ivr"


def test_enqueue_refuses_an_unknown_call(routing):
    with pytest.raises(RoutingRefused, match="^unknown call c-404$"):
        routing.enqueue("c-404", "police", 1, now_ms=T0)


def test_enqueue_refuses_a_call_already_queued(routing):
    routing.arrive("c-1", "+15550100", "PJSIP/a", now_ms=T0)
    routing.enqueue("c-1", "police", 1, now_ms=T0)
    with pytest.raises(RoutingRefused,
                       match="^call c-1 is queued; only a call in the ivr can be queued$"):
        routing.enqueue("c-1", "fire", 0, now_ms=T0)
    assert routing.queue("police") == ["c-1"]
    assert routing.queue("fire") == []


def test_enqueue_records_the_menu_language(routing):
    routing.arrive("c-1", "+15550100", "PJSIP/a", language="en", now_ms=T0)
    routing.arrive("c-2", "+15550100", "PJSIP/b", language="en", now_ms=T0)
    routing.enqueue("c-1", "police", 1, language="es", now_ms=T0)
    routing.enqueue("c-2", "police", 1, now_ms=T0)
    assert routing.call("c-1")["language"] == "es"
    assert routing.call("c-2")["language"] == "en"


def test_active_calls_lists_unfinished_calls_by_arrival(routing):
    for n, arrived in enumerate([300, 100, 200]):
        routing.arrive(f"c-{n}", "+15550100", f"PJSIP/{n}", now_ms=T0 + arrived)
    routing.hangup("c-2", 0, now_ms=T0 + 400)

    assert [c["call_id"] for c in routing.active_calls()] == ["c-1", "c-0"]
    assert routing.active_calls()[0]["state"] == "ivr"
    routing.hangup("c-0", 0, now_ms=T0 + 400)
    routing.hangup("c-1", 0, now_ms=T0 + 400)
    assert routing.active_calls() == []


@pytest.mark.parametrize(("route_reason", "policy", "expected"), [
    ("chosen", None, "chosen"),
    ("no_input", None, "no_choice"),
    ("invalid", None, "no_choice"),
    ("chosen", "lower_priority", "policy"),
    ("chosen", "general_only", "policy"),
])
def test_enqueue_records_where_the_priority_came_from(routing, route_reason, policy, expected):
    if policy:
        Numbers(routing.redis).set_policy("+15550100", policy, set_by="sup-1", now_ms=T0)
    routing.arrive("c-1", "+15550100", "PJSIP/a", now_ms=T0)
    routing.enqueue("c-1", "police", 1, choice="1", route_reason=route_reason, now_ms=T0 + 3_000)
    call = routing.call("c-1")
    assert call["priority_reason"] == expected
    assert call["ivr_ms"] == "3000"


def test_enqueue_keeps_the_ivr_path_and_a_transfer_reason(routing):
    routing.arrive("c-1", "+15550100", "PJSIP/a", now_ms=T0)
    path = '[{"key":"1","result":"chosen","at_ms":1200,"language":"vi"}]'
    routing.enqueue("c-1", "fire", 0, choice="2", route_reason="chosen", ivr_path=path, priority_reason="transfer",
                    now_ms=T0 + 1_500)
    call = routing.call("c-1")
    assert (call["ivr_path"], call["priority_reason"], call["ivr_ms"]) == (path, "transfer", "1500")
    assert routing.events()[-1]["priority_reason"] == "transfer"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"ivr_path": "not json"}, "ivr_path must be a JSON array"),
    ({"ivr_path": "[" + "1," * 2500 + "1]"}, "ivr_path is longer than 4000 characters"),
    ({"priority_reason": "vip"}, 'priority_reason "vip" is not one of no_choice, chosen'),
])
def test_enqueue_refuses_a_bad_path_or_reason_and_keeps_the_caller_in_the_ivr(routing, kwargs, message):
    routing.arrive("c-1", "+15550100", "PJSIP/a", now_ms=T0)
    with pytest.raises(RoutingRefused, match=message):
        routing.enqueue("c-1", "police", 1, choice="1", route_reason="chosen", now_ms=T0 + 1_000, **kwargs)
    assert routing.call("c-1")["state"] == "ivr"


def test_a_supervisor_reprioritizing_says_who_and_why(routing):
    routing.arrive("c-1", "+15550100", "PJSIP/a", now_ms=T0)
    routing.enqueue("c-1", "police", 1, choice="1", route_reason="chosen", now_ms=T0 + 1_000)
    routing.reprioritize("c-1", 0, set_by="sup-1", note="child on the line", now_ms=T0 + 5_000)
    call = routing.call("c-1")
    assert (call["priority"], call["priority_reason"], call["priority_set_by"], call["priority_note"]) == (
        "0", "supervisor", "sup-1", "child on the line")
    event = routing.events()[-1]
    assert (event["type"], event["note"], event["priority_reason"]) == ("call_reprioritized", "child on the line",
                                                                       "supervisor")
