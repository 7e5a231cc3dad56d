"""queueing/lua/call_hold.lua on the test Redis: what the bridge reports while a caller is held.
A desk that hangs up on a held caller leaves it at the HEAD of its queue (never dropped); a failed
resume keeps the caller on hold, visibly; a desk hanging up after a resume changes nothing here."""

from __future__ import annotations

import pytest

from queueing import Routing
from queueing.errors import RoutingRefused

T0 = 1_700_000_000_000


@pytest.fixture
def routing(redis_client):
    r = Routing(redis_client)
    r.register_desk("p-1", "police", now_ms=T0)
    r.register_desk("p-2", "police", now_ms=T0)
    for call_id, caller, at in (("c-1", "0911", T0 + 1000), ("c-2", "0922", T0 + 2000)):
        r.arrive(call_id, caller, f"PJSIP/citizens-{call_id}", now_ms=at)
        r.enqueue(call_id, "police", 1, now_ms=at + 500)
    r.set_desk_state("p-1", "ready", now_ms=T0 + 3000)
    claim = r.claim_next(["police"], 20_000, now_ms=T0 + 4000)
    assert claim is not None and (claim.call_id, claim.desk_id) == ("c-1", "p-1")
    r.offer_answered("c-1", "p-1", now_ms=T0 + 5000)
    return r


def test_a_desk_leaving_a_held_caller_puts_it_at_the_head_of_its_queue(routing):
    routing.call_hold("c-1", "p-1", "hold", by="lan", now_ms=T0 + 6000)
    reply = routing.call_hold("c-1", "p-1", "desk_left", reason="desk hung up", wrap_up_ms=10_000, now_ms=T0 + 9000)
    assert reply["result"] == "requeued"
    call = routing.call("c-1")
    assert (call["state"], call["queue"], call["desk"], call["held"], call["priority"]) == ("queued", "police", "", "0", "0")
    assert routing.queue("police") == ["c-1", "c-2"]  # ahead of the caller who came later
    assert routing.desk("p-1")["state"] == "wrap_up"
    assert [e["type"] for e in routing.events(50)][-3:] == ["desk_state", "call_hold_desk_left", "call_queued"]


def test_a_desk_hanging_up_after_a_resume_is_not_a_requeue(routing):
    routing.call_hold("c-1", "p-1", "hold", now_ms=T0 + 6000)
    routing.call_hold("c-1", "p-1", "resume", now_ms=T0 + 8000)
    assert routing.call("c-1")["held_total_ms"] == "2000"
    assert routing.call_hold("c-1", "p-1", "desk_left", now_ms=T0 + 9000)["result"] == "noop"
    assert routing.call("c-1")["state"] == "on_call"
    # ...unless the resume itself found the desk's leg gone
    assert routing.call_hold("c-1", "p-1", "desk_left", by="resume", now_ms=T0 + 9500)["result"] == "requeued"


def test_a_failed_resume_keeps_the_caller_on_hold_and_says_so(routing):
    routing.call_hold("c-1", "p-1", "hold", now_ms=T0 + 6000)
    routing.call_hold("c-1", "p-1", "resume", now_ms=T0 + 7000)
    reply = routing.call_hold("c-1", "p-1", "resume_failed", reason="FAILURE", now_ms=T0 + 7100)
    assert (reply["result"], routing.call("c-1")["held"]) == ("resume_failed", "1")
    assert routing.events(5)[-1]["type"] == "call_resume_failed"
    routing.call_hold("c-1", "p-1", "resume", now_ms=T0 + 8000)  # the desk may try again
    reply = routing.call_hold("c-1", "p-1", "hold_failed", now_ms=T0 + 8100)
    assert reply["result"] == "noop"


def test_refusals(routing):
    with pytest.raises(RoutingRefused, match="not on a call at desk p-2"):
        routing.call_hold("c-1", "p-2", "hold")
    with pytest.raises(RoutingRefused, match="not on hold"):
        routing.call_hold("c-1", "p-1", "resume")
    with pytest.raises(RoutingRefused, match="unknown hold action"):
        routing.call_hold("c-1", "p-1", "park")
    routing.call_hold("c-1", "p-1", "hold")
    with pytest.raises(RoutingRefused, match="already on hold"):
        routing.call_hold("c-1", "p-1", "hold")
