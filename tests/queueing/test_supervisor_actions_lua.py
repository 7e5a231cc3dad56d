"""A supervisor's actions on waiting callers and desks, in Redis: call_move (another queue, same
arrival), call_pick (a named desk, offered by claim_next before anything else) and a forced desk
state that names who forced it."""

from __future__ import annotations

import pytest

from queueing import Routing, RoutingRefused

T0 = 1_700_000_000_000


@pytest.fixture
def routing(redis_client):
    """p-0 (police, priority 1, arrived T0), p-1 (police, 1, T0+1 s), f-0 (fire, 1, T0+2 s) and
    f-1 (fire, 2, T0-5 s) wait; desks of police (101, 102), fire (201, cross-trained for police) and
    medical (301) are registered, all paused."""
    r = Routing(redis_client)
    for desk_id, agency, trained in (("desk-101", "police", ()), ("desk-102", "police", ()),
                                     ("desk-201", "fire", ("police",)), ("desk-301", "medical", ())):
        r.register_desk(desk_id, agency, cross_trained=trained, now_ms=T0 - 60_000)
        r.set_desk_state(desk_id, "login", now_ms=T0 - 60_000)
    for call_id, queue, priority, at in (("p-0", "police", 1, T0), ("p-1", "police", 1, T0 + 1_000),
                                         ("f-0", "fire", 1, T0 + 2_000), ("f-1", "fire", 2, T0 - 5_000)):
        r.arrive(call_id, "0900", f"PJSIP/{call_id}", now_ms=at)
        r.enqueue(call_id, queue, priority, now_ms=at + 500)
    return r


def last_event(routing: Routing, kind: str) -> dict[str, str]:
    return next(e for e in reversed(routing.events(50)) if e["type"] == kind)


# --- move -------------------------------------------------------------------------------------

def test_a_moved_caller_keeps_its_arrival_among_callers_of_its_priority(routing):
    score = routing.redis.zscore("hotline:queue:police", "p-1")
    result = routing.move("p-1", "fire", moved_by="sup-anh", note="a fire, not a theft", now_ms=T0 + 10_000)
    assert (result["queue"], result["previous_queue"], result["position"]) == ("fire", "police", "1")
    # p-1 arrived T0+1 s: before f-0 (T0+2 s) among priority 1, and f-1's priority 2 comes after both
    assert routing.queue("fire") == ["p-1", "f-0", "f-1"]
    assert routing.queue("police") == ["p-0"]
    assert routing.redis.zscore("hotline:queue:fire", "p-1") == score
    call = routing.call("p-1")
    assert (call["queue"], call["state"], call["moved_from"], call["moved_by"]) == ("fire", "queued", "police", "sup-anh")
    event = last_event(routing, "call_moved")
    assert (event["previous_queue"], event["queue"], event["moved_by"], event["note"]) == (
        "police", "fire", "sup-anh", "a fire, not a theft")
    # f-0 (T0+2 s) back to police: behind p-0 and p-1, who arrived before it
    routing.move("p-1", "police", now_ms=T0 + 11_000)
    assert routing.move("f-0", "police", now_ms=T0 + 12_000)["position"] == "3"
    assert routing.queue("police") == ["p-0", "p-1", "f-0"]


def test_a_moved_caller_is_served_by_its_new_queue(routing):
    routing.move("p-0", "medical", now_ms=T0 + 10_000)
    routing.set_desk_state("desk-301", "ready", now_ms=T0 + 11_000)
    claim = routing.claim_next(["police", "fire", "medical"], 5_000, now_ms=T0 + 12_000)
    assert (claim.call_id, claim.desk_id, claim.queue) == ("p-0", "desk-301", "medical")


def test_a_ringing_caller_is_not_moved_and_stays_with_its_desk(routing):
    routing.set_desk_state("desk-101", "ready", now_ms=T0 + 5_000)
    assert routing.claim_next(["police"], 5_000, now_ms=T0 + 6_000).call_id == "p-0"
    with pytest.raises(RoutingRefused, match="call p-0 is ringing at desk desk-101; move it if that desk does not answer"):
        routing.move("p-0", "fire", now_ms=T0 + 7_000)
    assert (routing.call("p-0")["queue"], routing.queue("fire")) == ("police", ["f-0", "f-1"])
    # the desk does not answer: back in police at its place, and then it can be moved
    routing.offer_failed("p-0", "desk-101", "NOANSWER", 3, now_ms=T0 + 11_000)
    assert routing.move("p-0", "fire", now_ms=T0 + 12_000)["position"] == "1"


@pytest.mark.parametrize(("call_id", "queue", "message"), [
    ("nope", "fire", "unknown call nope"),
    ("p-0", "police", "call p-0 already waits in police"),
    ("p-0", "no such", "queue \"no such\" is not a valid id"),
])
def test_a_bad_move_is_refused_and_changes_nothing(routing, call_id, queue, message):
    with pytest.raises(RoutingRefused, match=message):
        routing.move(call_id, queue, now_ms=T0 + 10_000)
    assert (routing.queue("police"), routing.queue("fire")) == (["p-0", "p-1"], ["f-0", "f-1"])


def test_an_ended_caller_cannot_be_moved(routing):
    routing.hangup("p-0", 0, now_ms=T0 + 5_000)
    with pytest.raises(RoutingRefused, match="call p-0 is abandoned; only a waiting caller can be moved"):
        routing.move("p-0", "fire", now_ms=T0 + 6_000)


# --- pick -------------------------------------------------------------------------------------

def test_a_picked_caller_goes_to_the_named_desk_not_the_longest_ready_nor_the_head(routing):
    routing.set_desk_state("desk-101", "ready", now_ms=T0 + 1_000)  # ready longest
    routing.set_desk_state("desk-102", "ready", now_ms=T0 + 2_000)
    # nothing dispatched meanwhile: the supervisor picks the second caller for the second desk
    result = routing.pick("p-1", "desk-102", picked_by="sup-anh", note="her mother on desk-102", now_ms=T0 + 3_000)
    assert (result["desk_id"], result["queue"]) == ("desk-102", "police")
    assert last_event(routing, "call_picked")["picked_by"] == "sup-anh"
    claim = routing.claim_next(["police", "fire"], 5_000, now_ms=T0 + 3_100)
    assert (claim.call_id, claim.desk_id, claim.channel) == ("p-1", "desk-102", "PJSIP/p-1")
    assert (routing.call("p-1")["state"], routing.desk("desk-102")["state"]) == ("ringing", "ringing")
    offered = last_event(routing, "offered")
    assert (offered["call_id"], offered["desk_id"], offered["picked_by"]) == ("p-1", "desk-102", "sup-anh")
    # then the usual order: the head to the desk ready longest
    claim = routing.claim_next(["police", "fire"], 5_000, now_ms=T0 + 3_200)
    assert (claim.call_id, claim.desk_id) == ("p-0", "desk-101")
    assert routing.redis.zcard("hotline:picks") == 0


def test_a_cross_trained_desk_may_be_picked_before_any_overflow(routing):
    routing.set_desk_state("desk-201", "ready", now_ms=T0 + 1_000)
    # fire's own f-0 would be its next; the supervisor gives it police's p-0
    routing.pick("p-0", "desk-201", now_ms=T0 + 2_000)
    claim = routing.claim_next(["police", "fire"], 5_000, now_ms=T0 + 2_100)
    assert (claim.call_id, claim.desk_id, claim.queue) == ("p-0", "desk-201", "police")


@pytest.mark.parametrize(("call_id", "desk_id", "message"), [
    ("nope", "desk-101", "unknown call nope"),
    ("p-0", "desk-999", "unknown desk desk-999"),
    ("p-0", "desk-102", "desk desk-102 is paused; only a ready desk can be picked"),
    ("p-0", "desk-301", "desk desk-301 is a medical desk, not cross-trained for police"),
    ("f-0", "desk-101", "desk desk-101 is a police desk, not cross-trained for fire"),
])
def test_a_bad_pick_is_refused_and_changes_nothing(routing, call_id, desk_id, message):
    routing.set_desk_state("desk-101", "ready", now_ms=T0 + 1_000)
    routing.set_desk_state("desk-301", "ready", now_ms=T0 + 1_000)
    with pytest.raises(RoutingRefused, match=message):
        routing.pick(call_id, desk_id, now_ms=T0 + 2_000)
    assert routing.redis.zcard("hotline:picks") == 0
    assert routing.desk("desk-101").get("picked_call", "") == ""


def test_a_ringing_caller_cannot_be_picked(routing):
    routing.set_desk_state("desk-101", "ready", now_ms=T0 + 1_000)
    routing.claim_next(["police"], 5_000, now_ms=T0 + 2_000)
    routing.set_desk_state("desk-102", "ready", now_ms=T0 + 3_000)
    with pytest.raises(RoutingRefused, match="call p-0 is ringing; only a waiting caller can be picked"):
        routing.pick("p-0", "desk-102", now_ms=T0 + 4_000)


def test_one_desk_is_picked_for_one_caller_at_a_time(routing):
    routing.set_desk_state("desk-101", "ready", now_ms=T0 + 1_000)
    routing.pick("p-0", "desk-101", now_ms=T0 + 2_000)
    with pytest.raises(RoutingRefused, match="desk desk-101 is already picked for call p-0"):
        routing.pick("p-1", "desk-101", now_ms=T0 + 2_500)


def test_a_pick_that_cannot_be_served_is_dropped_and_the_caller_keeps_its_place(routing):
    routing.set_desk_state("desk-102", "ready", now_ms=T0 + 1_000)
    routing.pick("p-1", "desk-102", now_ms=T0 + 2_000)
    routing.set_desk_state("desk-102", "paused", reason="meal", now_ms=T0 + 2_500)  # before any bridge served it
    assert routing.claim_next(["police"], 5_000, now_ms=T0 + 3_000) is None
    dropped = last_event(routing, "pick_dropped")
    assert (dropped["call_id"], dropped["desk_id"], dropped["reason"]) == (
        "p-1", "desk-102", "desk desk-102 is paused; only a ready desk can be picked")
    assert routing.queue("police") == ["p-0", "p-1"]
    assert (routing.call("p-1")["picked_desk"], routing.redis.zcard("hotline:picks")) == ("", 0)
    # served as any other afterwards
    routing.set_desk_state("desk-101", "ready", now_ms=T0 + 4_000)
    assert routing.claim_next(["police"], 5_000, now_ms=T0 + 4_100).call_id == "p-0"


def test_a_picked_caller_who_hangs_up_leaves_the_desk_free(routing):
    routing.set_desk_state("desk-101", "ready", now_ms=T0 + 1_000)
    routing.pick("p-1", "desk-101", now_ms=T0 + 2_000)
    routing.hangup("p-1", 0, now_ms=T0 + 2_500)
    claim = routing.claim_next(["police"], 5_000, now_ms=T0 + 3_000)
    assert (claim.call_id, claim.desk_id) == ("p-0", "desk-101")
    assert routing.redis.exists("hotline:call:nope") == 0


def test_a_pick_for_a_desk_of_agencies_this_bridge_does_not_serve_waits_for_its_bridge(routing):
    routing.set_desk_state("desk-201", "ready", now_ms=T0 + 1_000)
    routing.pick("p-0", "desk-201", now_ms=T0 + 2_000)
    assert routing.claim_next(["medical"], 5_000, now_ms=T0 + 2_100) is None  # not a fire bridge
    assert routing.redis.zcard("hotline:picks") == 1
    assert routing.claim_next(["fire", "police"], 5_000, now_ms=T0 + 2_200).call_id == "p-0"


def test_a_moved_caller_loses_its_pick(routing):
    routing.set_desk_state("desk-101", "ready", now_ms=T0 + 1_000)
    routing.pick("p-1", "desk-101", now_ms=T0 + 2_000)
    routing.move("p-1", "general", now_ms=T0 + 2_500)
    assert last_event(routing, "pick_dropped")["reason"] == "moved"
    assert routing.desk("desk-101")["picked_call"] == ""
    # general's caller of T0+1 s is behind police's of T0 on score: the desk takes p-0 first
    assert routing.claim_next(["police"], 5_000, now_ms=T0 + 3_000).call_id == "p-0"


# --- a forced desk state --------------------------------------------------------------------

def test_a_forced_desk_state_names_who_forced_it(routing):
    routing.set_desk_state("desk-101", "ready", now_ms=T0 + 1_000)
    routing.set_desk_state("desk-101", "paused", reason="headset broken", set_by="sup-anh", now_ms=T0 + 2_000)
    desk = routing.desk("desk-101")
    assert (desk["state"], desk["reason"], desk["state_set_by"]) == ("paused", "headset broken", "sup-anh")
    event = last_event(routing, "desk_state")
    assert (event["state"], event["reason"], event["set_by"]) == ("paused", "headset broken", "sup-anh")
    routing.set_desk_state("desk-101", "ready", now_ms=T0 + 3_000)  # the call-taker's own: nobody forced it
    assert (routing.desk("desk-101")["state_set_by"], last_event(routing, "desk_state")["set_by"]) == ("", "")
    # a forced log-in: the desk's reason is "logged in", the event keeps the supervisor's words
    routing.set_desk_state("desk-102", "offline", reason="gone home", set_by="sup-anh", now_ms=T0 + 4_000)
    routing.set_desk_state("desk-102", "login", reason="covering desk-101", set_by="sup-anh", now_ms=T0 + 5_000)
    event = last_event(routing, "desk_state")
    assert (event["reason"], event["set_by"], event["set_reason"]) == ("logged in", "sup-anh", "covering desk-101")
