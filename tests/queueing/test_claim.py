"""claim_next: which caller, which desk, and what the match writes."""

from __future__ import annotations

import pytest

from queueing import Claim, Keys, Routing, RoutingRefused
from queueing.audit import audit

T0 = 1_700_000_000_000
AGENCIES = ["police", "fire", "medical"]
RING_MS = 20_000


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


def caller(routing, call_id, queue, priority=1, arrived=0):
    routing.arrive(call_id, f"+1555{arrived:07d}", f"PJSIP/trunk-{call_id}", now_ms=T0 + arrived)
    routing.enqueue(call_id, queue, priority, now_ms=T0 + arrived)


def ready_desk(routing, desk_id, agency, ready_since=0):
    routing.register_desk(desk_id, agency, now_ms=T0)
    routing.set_desk_state(desk_id, "ready", now_ms=T0 + ready_since)


def claim(routing, now=10_000):
    return routing.claim_next(AGENCIES, RING_MS, now_ms=T0 + now)


def test_nothing_to_dispatch_without_callers_or_desks(routing):
    assert claim(routing) is None
    ready_desk(routing, "p-1", "police")
    assert claim(routing) is None
    routing.set_desk_state("p-1", "offline", now_ms=T0)
    caller(routing, "c-1", "police")
    assert claim(routing) is None
    assert routing.queue("police") == ["c-1"]


def test_claim_matches_and_records_the_offer(routing, redis_client):
    caller(routing, "c-1", "police", arrived=5)
    ready_desk(routing, "p-1", "police")

    result = claim(routing, now=10_000)

    assert result == Claim(call_id="c-1", desk_id="p-1", channel="PJSIP/trunk-c-1",
                           queue="police", caller="+15550000005",
                           deadline_ms=T0 + 10_000 + RING_MS)
    call, desk = routing.call("c-1"), routing.desk("p-1")
    assert (call["state"], call["desk"], call["offered_ms"], call["ring_attempts"]) == (
        "ringing", "p-1", str(T0 + 10_000), "1")
    assert (desk["state"], desk["call_id"], desk["since_ms"]) == (
        "ringing", "c-1", str(T0 + 10_000))
    keys = Keys()
    assert routing.queue("police") == []
    assert redis_client.zcard(keys.desks_ready("police")) == 0
    assert redis_client.zscore(keys.offers(), "c-1") == T0 + 10_000 + RING_MS
    assert audit(redis_client) == []


@pytest.mark.parametrize(
    ("callers", "expected_order"),
    [
        # (call_id, queue, priority, arrival offset)
        ([("a", "police", 1, 10), ("b", "police", 1, 5)], ["b", "a"]),
        ([("a", "police", 2, 5), ("b", "police", 1, 10)], ["b", "a"]),
        ([("a", "police", 1, 5), ("g", "general", 0, 10)], ["g", "a"]),
        ([("a", "general", 1, 10), ("b", "police", 1, 5)], ["b", "a"]),
        ([("m", "medical", 1, 3), ("f", "fire", 2, 1), ("p", "police", 1, 2)], ["p", "m", "f"]),
    ],
)
def test_callers_are_served_by_priority_then_arrival_across_queues(
        routing, callers, expected_order):
    for call_id, queue, priority, arrived in callers:
        caller(routing, call_id, queue, priority, arrived)
    for index, agency in enumerate(AGENCIES):
        for n in range(len(callers)):
            ready_desk(routing, f"{agency}-{n}", agency, ready_since=index * 10 + n)

    served = [claim(routing).call_id for _ in callers]

    assert served == expected_order
    assert claim(routing) is None


def test_general_queue_is_served_by_any_agency(routing):
    caller(routing, "g-1", "general", priority=0)
    ready_desk(routing, "f-1", "fire")

    result = claim(routing)

    assert (result.call_id, result.desk_id, result.queue) == ("g-1", "f-1", "general")


def test_agency_desk_never_takes_another_agencys_queue(routing):
    caller(routing, "p-call", "police", priority=0, arrived=1)
    caller(routing, "m-call", "medical", priority=0, arrived=2)
    ready_desk(routing, "f-1", "fire")

    assert claim(routing) is None
    assert routing.queue("police") == ["p-call"]
    assert routing.queue("medical") == ["m-call"]
    assert routing.desk("f-1")["state"] == "ready"


def test_blocked_head_of_one_queue_does_not_hold_back_another(routing):
    # The police caller is older and more urgent but no police desk is ready.
    caller(routing, "p-call", "police", priority=0, arrived=1)
    caller(routing, "f-call", "fire", priority=3, arrived=9)
    ready_desk(routing, "f-1", "fire")

    assert claim(routing).call_id == "f-call"


def test_longest_idle_desk_is_chosen(routing):
    ready_desk(routing, "p-new", "police", ready_since=300)
    ready_desk(routing, "p-old", "police", ready_since=100)
    ready_desk(routing, "p-mid", "police", ready_since=200)
    for n in range(3):
        caller(routing, f"c-{n}", "police", arrived=n)

    assert [claim(routing).desk_id for _ in range(3)] == ["p-old", "p-mid", "p-new"]


def test_general_takes_the_longest_idle_desk_across_agencies(routing):
    ready_desk(routing, "p-1", "police", ready_since=300)
    ready_desk(routing, "m-1", "medical", ready_since=100)
    ready_desk(routing, "f-1", "fire", ready_since=200)
    caller(routing, "g-1", "general", priority=0)

    assert claim(routing).desk_id == "m-1"


def test_agency_queue_does_not_borrow_the_idlest_desk_of_another_agency(routing):
    ready_desk(routing, "m-1", "medical", ready_since=100)
    ready_desk(routing, "p-1", "police", ready_since=900)
    caller(routing, "p-call", "police")

    result = claim(routing)

    assert (result.call_id, result.desk_id) == ("p-call", "p-1")
    assert routing.desk("m-1")["state"] == "ready"


def test_only_the_listed_agencies_are_dispatched(routing):
    ready_desk(routing, "f-1", "fire")
    caller(routing, "g-1", "general", priority=0)
    caller(routing, "f-call", "fire")

    assert routing.claim_next(["police"], RING_MS, now_ms=T0) is None
    assert routing.claim_next(["police", "fire"], RING_MS, now_ms=T0).call_id == "g-1"


@pytest.mark.parametrize(
    ("agencies", "ring_ms", "message"),
    [
        ([], RING_MS, "claim_next needs at least one agency"),
        (["general"], RING_MS, '"general" is a queue, not an agency'),
        (["police"], 0, "ring_timeout_ms must be between 1 and any, got 0"),
        (["pol ice"], RING_MS, 'agency "pol ice" is not a valid id'),
    ],
)
def test_claim_refuses_bad_arguments(routing, agencies, ring_ms, message):
    caller(routing, "c-1", "police")
    ready_desk(routing, "p-1", "police")
    with pytest.raises(RoutingRefused, match=message):
        routing.claim_next(agencies, ring_ms, now_ms=T0)
    assert routing.queue("police") == ["c-1"]


def test_a_stale_queue_head_is_dropped_instead_of_blocking_the_queue(routing, redis_client):
    keys = Keys()
    caller(routing, "c-1", "police", arrived=5)
    ready_desk(routing, "p-1", "police")
    # A head left behind by a hand edit: record gone, entry still first in the queue.
    redis_client.zadd(keys.queue("police"), {"ghost": 1})

    assert claim(routing).call_id == "c-1"
    assert redis_client.zscore(keys.queue("police"), "ghost") is None
    dropped = [e for e in routing.events() if e["type"] == "queue_entry_dropped"]
    assert [(e["call_id"], e["state"]) for e in dropped] == [("ghost", "missing")]


def test_a_desk_that_is_not_really_ready_is_never_rung(routing, redis_client):
    keys = Keys()
    caller(routing, "c-1", "police")
    ready_desk(routing, "p-1", "police", ready_since=200)
    routing.register_desk("p-off", "police", now_ms=T0)
    redis_client.zadd(keys.desks_ready("police"), {"p-off": 1})  # offline desk, idlest score

    assert claim(routing).desk_id == "p-1"
    assert routing.desk("p-off")["state"] == "offline"
    assert redis_client.zscore(keys.desks_ready("police"), "p-off") is None
