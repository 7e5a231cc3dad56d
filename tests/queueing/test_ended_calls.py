"""EndedCalls: a period's call records, each ended call read from Redis once."""

from __future__ import annotations

import pytest

from queueing.ended_calls import EndedCalls
from queueing.routing import Routing

T0 = 1_800_000_000_000
FIELDS = ("call_id", "outcome", "queue")


@pytest.fixture
def routing(redis_client):
    routing = Routing(redis_client)
    for i in range(3):
        routing.arrive(f"c-{i}", f"090000000{i}", f"PJSIP/t-{i}", now_ms=T0 + i * 1000)
        routing.enqueue(f"c-{i}", "police", 1, now_ms=T0 + i * 1000 + 100)
    routing.hangup("c-0", 0, now_ms=T0 + 5_000)
    return routing


def test_ended_calls_are_read_once_and_the_rest_each_time(routing):
    asked: list[list[str]] = []
    read = routing.call_fields

    def spy(call_ids, fields):
        asked.append(list(call_ids))
        return read(call_ids, fields)

    routing.call_fields = spy  # type: ignore[method-assign]
    calls = EndedCalls(routing, FIELDS)
    first = calls.since(T0)
    assert [(r["call_id"], r["outcome"]) for r in first] == [("c-0", "abandoned"), ("c-1", ""), ("c-2", "")]
    routing.hangup("c-1", 0, now_ms=T0 + 6_000)
    second = calls.since(T0)
    assert [(r["call_id"], r["outcome"]) for r in second] == [("c-0", "abandoned"), ("c-1", "abandoned"), ("c-2", "")]
    third = calls.since(T0)
    assert asked == [["c-0", "c-1", "c-2"], ["c-1", "c-2"], ["c-2"]]
    assert third == second


def test_a_call_out_of_the_period_is_forgotten(routing):
    calls = EndedCalls(routing, FIELDS)
    calls.since(T0)
    assert list(calls.ended) == ["c-0"]
    assert [r["call_id"] for r in calls.since(T0 + 1_000)] == ["c-1", "c-2"]  # c-0 arrived before
    assert calls.ended == {}


def test_the_outcome_must_be_read():
    with pytest.raises(ValueError, match="must include 'outcome'"):
        EndedCalls(None, ("call_id", "queue"))  # type: ignore[arg-type]
