"""Overflow in claim_next: an agency's callers go to desks cross-trained for it once its
head caller has waited long enough, or when none of its desks is logged in — without
leaving their own queue."""

from __future__ import annotations

import pytest

from queueing import Routing

T0 = 1_700_000_000_000
AGENCIES = ["police", "fire"]
OVERFLOW = {"police": 10_000, "fire": 10_000}


@pytest.fixture
def routing(redis_client):
    r = Routing(redis_client)
    r.register_desk("p-1", "police", now_ms=T0)
    r.register_desk("f-1", "fire", cross_trained=["police"], now_ms=T0)
    r.register_desk("f-2", "fire", now_ms=T0)
    return r


def caller(r: Routing, call_id: str, queue: str, at: int) -> None:
    r.arrive(call_id, "0900", f"PJSIP/citizens-{call_id}", now_ms=at)
    r.enqueue(call_id, queue, 1, now_ms=at)


def claim(r: Routing, now: int):
    return r.claim_next(AGENCIES, 5_000, overflow_after_ms=OVERFLOW, now_ms=now)


def test_before_the_threshold_a_police_caller_waits_for_a_police_desk(routing):
    routing.set_desk_state("p-1", "login", now_ms=T0)  # a police desk is logged in, busy elsewhere
    routing.set_desk_state("f-1", "ready", now_ms=T0)
    caller(routing, "c-1", "police", T0)
    assert claim(routing, T0 + 9_999) is None
    assert routing.queue("police") == ["c-1"]


def test_after_the_threshold_a_cross_trained_desk_takes_the_caller(routing):
    routing.set_desk_state("p-1", "login", now_ms=T0)
    routing.set_desk_state("f-2", "ready", now_ms=T0)  # idle longest, but not trained for police
    routing.set_desk_state("f-1", "ready", now_ms=T0 + 1)
    caller(routing, "c-1", "police", T0)
    got = claim(routing, T0 + 10_000)
    assert (got.call_id, got.desk_id, got.queue) == ("c-1", "f-1", "police")
    offered = [e for e in routing.events(20) if e["type"] == "offered"][-1]
    assert (offered["queue"], offered["desk_agency"]) == ("police", "fire")


def test_with_no_police_desk_logged_in_overflow_is_immediate(routing):
    routing.set_desk_state("f-1", "ready", now_ms=T0)
    caller(routing, "c-1", "police", T0)
    got = claim(routing, T0 + 1)
    assert got.desk_id == "f-1"


def test_an_agency_desk_is_preferred_to_a_cross_trained_one(routing):
    routing.set_desk_state("f-1", "ready", now_ms=T0)  # idle longer
    routing.set_desk_state("p-1", "ready", now_ms=T0 + 5)
    caller(routing, "c-1", "police", T0)
    assert claim(routing, T0 + 60_000).desk_id == "p-1"


def test_without_overflow_configured_nobody_overflows(routing):
    routing.set_desk_state("f-1", "ready", now_ms=T0)
    caller(routing, "c-1", "police", T0)
    assert routing.claim_next(AGENCIES, 5_000, now_ms=T0 + 600_000) is None


def test_an_overflowing_caller_keeps_its_place_in_its_own_queue(routing):
    routing.set_desk_state("p-1", "login", now_ms=T0)
    caller(routing, "c-1", "police", T0)
    caller(routing, "c-2", "police", T0 + 1_000)
    routing.set_desk_state("f-1", "ready", now_ms=T0)
    got = claim(routing, T0 + 10_500)
    assert got.call_id == "c-1"
    # f-1 does not answer: c-1 is back at the head of the police queue, before c-2.
    routing.offer_failed("c-1", "f-1", "NOANSWER", 3, now_ms=T0 + 15_000)
    assert routing.queue("police") == ["c-1", "c-2"]
    routing.set_desk_state("p-1", "ready", now_ms=T0 + 16_000)
    got = claim(routing, T0 + 16_001)
    assert (got.call_id, got.desk_id) == ("c-1", "p-1")


def test_a_bad_overflow_value_is_refused(routing):
    from queueing import RoutingRefused

    with pytest.raises(RoutingRefused, match="overflow for police must be a number of ms, got soon"):
        routing.claim_next(["police=soon"], 5_000, now_ms=T0)
