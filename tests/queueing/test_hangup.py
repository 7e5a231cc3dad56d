"""call_hangup in every state, call_fallback, and the callback lists."""

from __future__ import annotations

import pytest

from queueing import Hangup, Keys, Routing, RoutingRefused
from queueing.audit import audit

T0 = 1_700_000_000_000
WRAP_UP_MS = 30_000
HANGUP_AT = 50_000


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


def bring_call_to(routing, state, queue="police"):
    """A call c-1 that arrived at T0, in ``state``, with desk p-1 (police) registered."""
    routing.register_desk("p-1", "police", now_ms=T0)
    routing.arrive("c-1", "+15550100", "PJSIP/trunk-1", now_ms=T0)
    if state == "ivr":
        return
    if state == "fallback":
        routing.fallback("c-1", reason="ivr failed", now_ms=T0 + 1_000)
        return
    routing.enqueue("c-1", queue, 1, now_ms=T0 + 5_000)
    if state == "queued":
        return
    routing.set_desk_state("p-1", "ready", now_ms=T0)
    routing.claim_next(["police"], 20_000, now_ms=T0 + 6_000)
    if state == "ringing":
        return
    routing.offer_answered("c-1", "p-1", now_ms=T0 + 8_000)


@pytest.mark.parametrize(
    ("state", "expected", "desk_after"),
    [
        ("ivr", Hangup("abandoned", "c-1", "abandoned", "ivr", "abandoned", "ivr", "", ""),
         "offline"),
        ("queued", Hangup("abandoned", "c-1", "abandoned", "queued", "abandoned", "queued", "", ""),
         "offline"),
        ("ringing",
         Hangup("abandoned", "c-1", "abandoned", "ringing", "abandoned", "ringing", "p-1", "ready"),
         "ready"),
        ("on_call", Hangup("ended", "c-1", "ended", "on_call", "answered", "", "p-1", "wrap_up"),
         "wrap_up"),
        ("fallback", Hangup("ended", "c-1", "ended", "fallback", "fallback", "", "", ""),
         "offline"),
    ],
)
def test_hangup_in_every_state(routing, redis_client, state, expected, desk_after):
    bring_call_to(routing, state)

    assert routing.hangup("c-1", WRAP_UP_MS, now_ms=T0 + HANGUP_AT) == expected

    keys = Keys()
    call = routing.call("c-1")
    assert (call["state"], call["outcome"], call["ended_ms"]) == (
        expected.state, expected.outcome, str(T0 + HANGUP_AT))
    assert routing.desk("p-1")["state"] == desk_after
    assert not redis_client.sismember(keys.calls_active(), "c-1")
    assert routing.queue("police") == []
    assert redis_client.zcard(keys.offers()) == 0
    assert audit(redis_client) == []


@pytest.mark.parametrize("state", ["ivr", "queued", "ringing"])
def test_abandoned_caller_gets_wait_and_a_callback(routing, state):
    bring_call_to(routing, state)
    routing.hangup("c-1", WRAP_UP_MS, now_ms=T0 + HANGUP_AT)

    call = routing.call("c-1")
    assert (call["abandon_stage"], call["wait_ms"]) == (state, str(HANGUP_AT))
    # A caller who never chose is called back by the general queue.
    expected_queue = "general" if state == "ivr" else "police"
    assert routing.callbacks(expected_queue) == ["c-1"]
    other = "police" if expected_queue == "general" else "general"
    assert routing.callbacks(other) == []


def test_callbacks_are_listed_oldest_first_per_queue(routing):
    for n, (queue, hangup_at) in enumerate([("fire", 300), ("police", 100), ("fire", 200)]):
        call_id = f"c-{n}"
        routing.arrive(call_id, f"+1555000{n}", f"PJSIP/trunk-{n}", now_ms=T0)
        routing.enqueue(call_id, queue, 1, now_ms=T0)
        routing.hangup(call_id, WRAP_UP_MS, now_ms=T0 + hangup_at)

    assert routing.callbacks("fire") == ["c-2", "c-0"]
    assert routing.callbacks("police") == ["c-1"]


def test_answered_call_sends_the_desk_to_wrap_up(routing, redis_client):
    bring_call_to(routing, "on_call")
    routing.hangup("c-1", WRAP_UP_MS, now_ms=T0 + HANGUP_AT)

    desk = routing.desk("p-1")
    assert (desk["state"], desk["call_id"], desk["wrap_up_until_ms"]) == (
        "wrap_up", "c-1", str(T0 + HANGUP_AT + WRAP_UP_MS))
    assert redis_client.zscore(Keys().wrapups(), "p-1") == T0 + HANGUP_AT + WRAP_UP_MS
    assert routing.callbacks("police") == []
    assert routing.call("c-1")["wait_ms"] == "8000"  # set when answered, not at hangup


@pytest.mark.parametrize("state", ["ivr", "queued", "ringing", "on_call", "fallback"])
def test_a_second_hangup_is_a_noop(routing, redis_client, state):
    bring_call_to(routing, state)
    first = routing.hangup("c-1", WRAP_UP_MS, now_ms=T0 + HANGUP_AT)
    record, events = routing.call("c-1"), len(routing.events())
    callbacks = {q: routing.callbacks(q) for q in ("police", "general")}

    second = routing.hangup("c-1", WRAP_UP_MS, now_ms=T0 + HANGUP_AT + 5_000)

    assert second.result == "noop"
    assert (second.state, second.outcome) == (first.state, first.outcome)
    assert routing.call("c-1") == record
    assert len(routing.events()) == events
    assert {q: routing.callbacks(q) for q in ("police", "general")} == callbacks
    assert audit(redis_client) == []


def test_hangup_of_an_unknown_call_is_refused(routing):
    with pytest.raises(RoutingRefused, match="^unknown call c-404$"):
        routing.hangup("c-404", WRAP_UP_MS, now_ms=T0)


def test_hangup_refuses_a_negative_wrap_up(routing):
    bring_call_to(routing, "on_call")
    with pytest.raises(RoutingRefused, match="wrap_up_ms must be between 0 and any, got -1"):
        routing.hangup("c-1", -1, now_ms=T0 + HANGUP_AT)
    assert routing.call("c-1")["state"] == "on_call"


@pytest.mark.parametrize("state", ["ivr", "queued"])
def test_fallback_takes_the_caller_out_of_routing(routing, redis_client, state):
    bring_call_to(routing, state)

    routing.fallback("c-1", reason="bridge heartbeat stale", now_ms=T0 + 9_000)

    assert routing.call("c-1")["state"] == "fallback"
    assert routing.queue("police") == []
    assert redis_client.sismember(Keys().calls_active(), "c-1")
    event = routing.events(1)[0]
    assert (event["type"], event["previous"], event["reason"]) == (
        "call_fallback", state, "bridge heartbeat stale")


@pytest.mark.parametrize("state", ["ringing", "on_call", "fallback"])
def test_fallback_is_refused_once_routing_has_the_call(routing, state):
    bring_call_to(routing, state)
    with pytest.raises(RoutingRefused,
                       match=f"^call c-1 is {state}; only ivr or queued calls can go to the fallback$"):
        routing.fallback("c-1", now_ms=T0 + 9_000)
    assert routing.call("c-1")["state"] == state
