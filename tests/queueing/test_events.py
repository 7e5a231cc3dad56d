"""The events stream and the wake channel."""

from __future__ import annotations

import pytest
import redis

from queueing import Keys, Routing, RoutingRefused

T0 = 1_700_000_000_000


@pytest.fixture
def routing(redis_client):
    return Routing(redis_client)


def test_every_change_writes_one_event(routing):
    """A full call, step by step: (operation, expected event type, expected fields)."""
    steps = [
        (lambda: routing.register_desk("p-1", "police", now_ms=T0),
         "desk_registered", {"desk_id": "p-1", "agency": "police", "state": "offline"}),
        (lambda: routing.set_desk_state("p-1", "ready", now_ms=T0 + 1),
         "desk_state", {"desk_id": "p-1", "state": "ready", "previous": "offline"}),
        (lambda: routing.arrive("c-1", "+15550100", "PJSIP/t-1", now_ms=T0 + 2),
         "call_arrived", {"call_id": "c-1", "caller": "+15550100", "state": "ivr"}),
        (lambda: routing.enqueue("c-1", "police", 1, choice="1", now_ms=T0 + 3),
         "call_queued", {"call_id": "c-1", "queue": "police", "priority": "1", "choice": "1"}),
        (lambda: routing.claim_next(["police"], 20_000, now_ms=T0 + 4),
         "offered", {"call_id": "c-1", "desk_id": "p-1", "queue": "police", "attempt": "1",
                     "deadline_ms": str(T0 + 20_004), "caller": "+15550100", "arrived_ms": str(T0 + 2),
                     "priority": "1", "choice": "1", "offered_ms": str(T0 + 4)}),
        (lambda: routing.offer_failed("c-1", "p-1", "BUSY", 3, now_ms=T0 + 5),
         "offer_failed", {"call_id": "c-1", "desk_id": "p-1", "status": "BUSY", "missed": "1",
                          "state": "queued", "desk_state": "ready"}),
        (lambda: routing.claim_next(["police"], 20_000, now_ms=T0 + 6),
         "offered", {"call_id": "c-1", "attempt": "2"}),
        (lambda: routing.offer_answered("c-1", "p-1", now_ms=T0 + 7),
         "answered", {"call_id": "c-1", "desk_id": "p-1", "wait_ms": "5", "state": "on_call"}),
        (lambda: routing.hangup("c-1", 1_000, now_ms=T0 + 8),
         "call_ended", {"call_id": "c-1", "outcome": "answered", "desk_id": "p-1",
                        "desk_state": "wrap_up"}),
        (lambda: routing.release_wrapups(now_ms=T0 + 1_008),
         "desk_state", {"desk_id": "p-1", "state": "ready", "previous": "wrap_up"}),
        (lambda: routing.arrive("c-2", "", "PJSIP/t-2", now_ms=T0 + 9),
         "call_arrived", {"call_id": "c-2"}),
        (lambda: routing.hangup("c-2", 1_000, now_ms=T0 + 10),
         "call_abandoned", {"call_id": "c-2", "abandon_stage": "ivr", "outcome": "abandoned"}),
    ]
    for operation, event_type, fields in steps:
        count = len(routing.events(1_000))
        operation()
        events = routing.events(1_000)
        assert len(events) == count + 1, event_type
        event = events[-1]
        assert event["type"] == event_type
        assert {k: event[k] for k in fields} == fields
    assert [int(e["ms"]) - T0 for e in routing.events(1_000)] == [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 1_008, 9, 10]


def test_refusals_and_noops_write_no_event(routing):
    routing.register_desk("p-1", "police", now_ms=T0)
    before = routing.events()
    with pytest.raises(RoutingRefused):
        routing.set_desk_state("p-1", "busy", now_ms=T0)
    routing.set_desk_state("p-1", "offline", now_ms=T0)
    routing.register_desk("p-1", "police", now_ms=T0)
    assert routing.claim_next(["police"], 20_000, now_ms=T0) is None
    assert routing.events() == before


def test_events_returns_the_latest_oldest_first(routing):
    for n in range(5):
        routing.register_desk(f"d-{n}", "fire", now_ms=T0 + n)
    assert [e["desk_id"] for e in routing.events(3)] == ["d-2", "d-3", "d-4"]


def test_events_are_added_with_a_cap(routing, redis_url):
    # Writing 100 000 events to watch the trim would be slow: watch the command instead.
    monitor_client = redis.Redis.from_url(redis_url, decode_responses=True)
    with monitor_client.monitor() as monitor:
        routing.register_desk("p-1", "police", now_ms=T0)
        command = ""
        while not command.startswith("XADD"):
            command = monitor.next_command()["command"]
    monitor_client.close()
    assert command.startswith(f"XADD {Keys().events()} MAXLEN ~ 100000 * type desk_registered")


WAKE_CASES = [
    # (setup, operation, expected wake message or None)
    ("none", lambda r: r.register_desk("p-2", "police", now_ms=T0), None),
    ("none", lambda r: r.arrive("c-2", "+1555", "PJSIP/t-2", now_ms=T0), None),
    ("ivr", lambda r: r.enqueue("c-1", "police", 1, now_ms=T0), "call_queued"),
    ("none", lambda r: r.set_desk_state("p-1", "ready", now_ms=T0), "desk_ready"),
    ("none", lambda r: r.set_desk_state("p-1", "login", now_ms=T0), None),
    ("ringing", lambda r: r.offer_failed("c-1", "p-1", "NOANSWER", 5, now_ms=T0), "call_requeued"),
    ("ringing", lambda r: r.hangup("c-1", 0, now_ms=T0), "desk_ready"),
    ("ringing", lambda r: r.offer_answered("c-1", "p-1", now_ms=T0), None),
    ("wrap_up", lambda r: r.release_wrapups(now_ms=T0 + 1_000), "desk_ready"),
    ("wrap_up", lambda r: r.release_wrapups(now_ms=T0), None),
]


def bring_to(routing, setup):
    routing.register_desk("p-1", "police", now_ms=T0)
    if setup == "none":
        return
    routing.arrive("c-1", "+15550100", "PJSIP/t-1", now_ms=T0)
    if setup == "ivr":
        return
    routing.enqueue("c-1", "police", 1, now_ms=T0)
    routing.set_desk_state("p-1", "ready", now_ms=T0)
    routing.claim_next(["police"], 20_000, now_ms=T0)
    if setup == "ringing":
        return
    routing.offer_answered("c-1", "p-1", now_ms=T0)
    routing.hangup("c-1", 1_000, now_ms=T0)


@pytest.mark.parametrize(("setup", "operation", "expected"), WAKE_CASES)
def test_wake_is_published_when_something_may_be_dispatchable(
        routing, redis_client, setup, operation, expected):
    bring_to(routing, setup)
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(Keys().wake())
    try:
        pubsub.get_message(timeout=1)  # the subscribe confirmation
        operation(routing)
        # Our own marker, published after the operation returned, closes the window.
        redis_client.publish(Keys().wake(), "end-of-test")
        messages = []
        while (message := pubsub.get_message(timeout=2)) and message["data"] != "end-of-test":
            messages.append(message["data"])
    finally:
        pubsub.close()
    assert messages == ([expected] if expected else [])
