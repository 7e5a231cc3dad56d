"""ScriptTimings: per-script histograms of Lua round trips, and reading another process's snapshot."""

from __future__ import annotations

import json

import pytest

from queueing.routing import Routing
from queueing.script_timing import BUCKETS_S, ScriptTimings, parse_snapshot


@pytest.mark.parametrize(("seconds", "first_bucket_counting_it"), [
    (0.0, 0), (0.0005, 0), (0.00051, 1), (0.01, 4), (0.3, 9), (1.0, 9), (5.0, len(BUCKETS_S)),
])
def test_a_time_counts_in_its_bucket_and_every_larger_one(seconds, first_bucket_counting_it):
    timings = ScriptTimings()
    timings.observe("claim_next", seconds)
    counts, total = parse_snapshot(timings.snapshot())["claim_next"]
    assert counts == [0] * first_bucket_counting_it + [1] * (len(BUCKETS_S) + 1 - first_bucket_counting_it)
    assert total == pytest.approx(seconds)


def test_a_snapshot_survives_json_and_odd_ones_are_left_out():
    timings = ScriptTimings()
    for name, seconds in (("claim_next", 0.001), ("claim_next", 0.02), ("call_arrive", 0.0002)):
        timings.observe(name, seconds)
    back = parse_snapshot(json.loads(json.dumps(timings.snapshot())))
    assert sorted(back) == ["call_arrive", "claim_next"] and back["claim_next"][0][-1] == 2
    odd = {"short": {"le": [1, 2], "sum": 0.1}, "falling": {"le": [2, 1, *[1] * 9], "sum": 0.1},
           "negative": {"le": [0] * 11, "sum": -1}, "text": "x", "fine": {"le": [0] * 10 + [1], "sum": 3}}
    assert list(parse_snapshot(odd)) == ["fine"]
    assert parse_snapshot(["not", "a", "dict"]) == {}


def test_routing_times_every_script_it_runs_refusals_included(redis_client):
    routing = Routing(redis_client)
    routing.arrive("c-1", "0900", "PJSIP/t-1")
    with pytest.raises(Exception, match="unknown call"):
        routing.enqueue("c-missing", "police", 1)
    counts = {name: counts[-1] for name, (counts, _) in parse_snapshot(routing.timings.snapshot()).items()}
    assert counts == {"call_arrive": 1, "call_enqueue": 1}
    routing.call("c-1")  # a plain read is not a script
    assert parse_snapshot(routing.timings.snapshot())["call_arrive"][0][-1] == 1
