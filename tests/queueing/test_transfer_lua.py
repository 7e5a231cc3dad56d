"""transfer_start, transfer_step and call_command on a real Redis: a blind transfer puts the
caller at the head of the target queue with its original arrival time; refusals change nothing."""

from __future__ import annotations

import pytest

from queueing import Keys, Routing, RoutingRefused

T0 = 1_700_000_000_000
WRAP_UP_MS = 30_000


@pytest.fixture
def routing(redis_client):
    r = Routing(redis_client)
    r.register_desk("p-1", "police", now_ms=T0)
    r.register_desk("f-1", "fire", now_ms=T0)
    r.arrive("c-1", "+15550100", "PJSIP/trunk-1", now_ms=T0)
    r.enqueue("c-1", "police", 1, now_ms=T0 + 5_000)
    r.set_desk_state("p-1", "ready", now_ms=T0)
    r.claim_next(["police", "fire"], 20_000, now_ms=T0 + 6_000)
    r.offer_answered("c-1", "p-1", now_ms=T0 + 8_000)
    r.set_desk_state("f-1", "login", now_ms=T0)  # a fire desk is logged in (paused)
    return r


def commands(routing):
    return [fields for _, fields in routing.redis.xrange(Keys().call_commands())]


def test_a_blind_transfer_starts_moving_and_asks_the_bridge(routing):
    record = routing.transfer_start("c-1", "p-1", "fire", "blind", label="FIRE", now_ms=T0 + 20_000)
    assert (record["transfer_state"], record["kind"], record["from_desk"], record["from_agency"],
            record["target_agency"], record["own_queue"]) == ("moving", "blind", "p-1", "police", "fire", "police")
    assert commands(routing) == [{"action": "move_to_wait", "call_id": "c-1", "channel": "PJSIP/trunk-1",
                                  "label": "FIRE", "desk_id": "p-1", "ms": str(T0 + 20_000)}]
    # Until the bridge has moved the caller, it still talks to its desk.
    assert routing.call("c-1")["state"] == "on_call"
    assert routing.desk("p-1")["state"] == "on_call"
    event = routing.events(1)[-1]
    assert (event["type"], event["call_id"], event["desk_id"], event["to_agency"], event["transfer_state"]) == (
        "transfer", "c-1", "p-1", "fire", "moving")


def test_the_moved_caller_waits_at_the_head_of_the_target_queue(routing):
    # A fire caller who arrived after c-1 waits already, and one who arrived before with a lower priority.
    routing.arrive("c-2", "+15550102", "PJSIP/trunk-2", now_ms=T0 + 1_000)
    routing.enqueue("c-2", "fire", 0, now_ms=T0 + 2_000)
    routing.arrive("c-0", "+15550101", "PJSIP/trunk-0", now_ms=T0 - 1_000)
    routing.enqueue("c-0", "fire", 2, now_ms=T0 + 2_000)
    routing.transfer_start("c-1", "p-1", "fire", "blind", now_ms=T0 + 20_000)
    after = routing.transfer_step("c-1", "moving", "requeued", requeue_queue="fire", wrap_up_ms=WRAP_UP_MS,
                                  now_ms=T0 + 20_500)
    assert after["transfer_state"] == "requeued"
    call = routing.call("c-1")
    assert (call["state"], call["queue"], call["priority"], call["priority_reason"], call["desk"]) == (
        "queued", "fire", "0", "transfer", "")
    assert (call["transferred_from"], call["visible_to"], call["queue_score"]) == ("p-1", "fire", str(T0))
    assert routing.queue("fire") == ["c-1", "c-2", "c-0"]
    desk = routing.desk("p-1")
    assert (desk["state"], desk["wrap_up_until_ms"]) == ("wrap_up", str(T0 + 20_500 + WRAP_UP_MS))
    # A fire desk that gets ready now takes the transferred caller first.
    routing.set_desk_state("f-1", "ready", now_ms=T0 + 21_000)
    claim = routing.claim_next(["police", "fire"], 20_000, now_ms=T0 + 21_000)
    assert (claim.call_id, claim.desk_id) == ("c-1", "f-1")


def test_a_second_transfer_while_one_is_under_way_is_refused_and_changes_nothing(routing):
    routing.transfer_start("c-1", "p-1", "fire", "blind", now_ms=T0 + 20_000)
    before = (routing.call("c-1"), routing.transfer("c-1"), len(commands(routing)))
    with pytest.raises(RoutingRefused, match="a transfer is already under way"):
        routing.transfer_start("c-1", "p-1", "fire", "blind", now_ms=T0 + 20_100)
    with pytest.raises(RoutingRefused, match="a transfer of call c-1 is under way"):
        routing.call_command("c-1", "p-1", "hangup", now_ms=T0 + 20_100)
    assert (routing.call("c-1"), routing.transfer("c-1"), len(commands(routing))) == before


@pytest.mark.parametrize(("desk", "agency", "message"), [
    ("f-1", "fire", "not on a call at desk f-1"),
    ("p-1", "police", "a police desk already"),
    ("p-1", "medical", "no medical desk is logged in"),
    ("p-1", "general", "is a queue, not an agency"),
])
def test_refusals(routing, desk, agency, message):
    with pytest.raises(RoutingRefused, match=message):
        routing.transfer_start("c-1", desk, agency, "blind", now_ms=T0 + 20_000)
    assert routing.transfer("c-1") == {} and commands(routing) == []


def test_a_held_caller_is_not_transferred_until_resumed(routing):
    routing.call_hold("c-1", "p-1", "hold", by="lan", now_ms=T0 + 20_000)
    before = len(commands(routing))
    with pytest.raises(RoutingRefused, match="call c-1 is on hold: resume it, then transfer"):
        routing.transfer_start("c-1", "p-1", "fire", "blind", now_ms=T0 + 21_000)
    assert routing.transfer("c-1") == {} and len(commands(routing)) == before
    routing.call_hold("c-1", "p-1", "resume", by="lan", now_ms=T0 + 22_000)
    assert routing.transfer_start("c-1", "p-1", "fire", "blind", now_ms=T0 + 23_000)["transfer_state"] == "moving"


def test_a_caller_who_hangs_up_on_hold_ends_the_hold_with_the_call(routing):
    routing.call_hold("c-1", "p-1", "hold", by="lan", now_ms=T0 + 20_000)
    routing.hangup("c-1", WRAP_UP_MS, now_ms=T0 + 26_000)
    call = routing.call("c-1")
    assert (call["state"], call["held"], call["held_total_ms"]) == ("ended", "0", "6000")


def test_a_late_step_changes_nothing(routing):
    routing.transfer_start("c-1", "p-1", "fire", "blind", now_ms=T0 + 20_000)
    routing.transfer_step("c-1", "moving", "cancelled", reason="AMI refused", now_ms=T0 + 20_100)
    with pytest.raises(RoutingRefused, match="is cancelled, not moving"):
        routing.transfer_step("c-1", "moving", "requeued", requeue_queue="fire", wrap_up_ms=1, now_ms=T0 + 20_200)
    assert routing.call("c-1")["state"] == "on_call" and routing.desk("p-1")["state"] == "on_call"
    # Cancelled: the desk may transfer again.
    assert routing.transfer_start("c-1", "p-1", "fire", "blind", now_ms=T0 + 30_000)["transfer_state"] == "moving"


def test_a_caller_who_hung_up_meanwhile_is_not_requeued(routing):
    routing.transfer_start("c-1", "p-1", "fire", "blind", now_ms=T0 + 20_000)
    routing.hangup("c-1", WRAP_UP_MS, now_ms=T0 + 20_100)
    after = routing.transfer_step("c-1", "moving", "requeued", requeue_queue="fire", wrap_up_ms=1, now_ms=T0 + 20_200)
    assert after["transfer_state"] == "ended"
    assert routing.call("c-1")["state"] == "ended" and routing.queue("fire") == []


def test_hang_up_asks_the_bridge_and_is_on_the_audit_trail(routing):
    reply = routing.call_command("c-1", "p-1", "hangup", by="lan", now_ms=T0 + 20_000)
    assert reply["action"] == "hangup"
    assert commands(routing)[-1]["action"] == "hangup" and commands(routing)[-1]["channel"] == "PJSIP/trunk-1"
    event = routing.events(1)[-1]
    assert (event["type"], event["call_id"], event["desk_id"], event["by"]) == ("call_action", "c-1", "p-1", "lan")
    with pytest.raises(RoutingRefused, match="not on a call at desk f-1"):
        routing.call_command("c-1", "f-1", "hangup", now_ms=T0 + 20_000)


# --- consultative transfers ---------------------------------------------------------------------


@pytest.fixture
def consult(routing):
    routing.register_desk("f-2", "fire", now_ms=T0)
    routing.set_desk_state("f-2", "ready", now_ms=T0 + 1_000)
    routing.set_desk_state("f-1", "ready", now_ms=T0 + 2_000)
    return routing


def test_a_consult_rings_the_fire_desk_ready_longest_and_holds_the_caller(consult):
    record = consult.transfer_start("c-1", "p-1", "fire", "consult", label="FIRE", now_ms=T0 + 20_000)
    assert (record["transfer_state"], record["kind"], record["target_desk"]) == ("ringback", "consult", "f-2")
    assert commands(consult)[-1] == {"action": "consult", "call_id": "c-1", "channel": "PJSIP/trunk-1", "label": "FIRE",
                                     "desk_id": "p-1", "target_desk": "f-2", "ms": str(T0 + 20_000)}
    call = consult.call("c-1")
    assert (call["state"], call["desk"], call["held"], call["consult_desk"]) == ("on_call", "p-1", "1", "f-2")
    desk = consult.desk("f-2")
    assert (desk["state"], desk["call_id"]) == ("ringing", "c-1")
    # Nobody else is offered to the consulted desk: a new fire caller goes to f-1.
    consult.arrive("c-9", "+15550109", "PJSIP/trunk-9", now_ms=T0 + 21_000)
    consult.enqueue("c-9", "fire", 1, now_ms=T0 + 21_000)
    assert consult.claim_next(["fire"], 20_000, now_ms=T0 + 21_000).desk_id == "f-1"


def test_a_consult_needs_a_ready_desk(routing):
    with pytest.raises(RoutingRefused, match="no fire desk is ready to take a consultation"):
        routing.transfer_start("c-1", "p-1", "fire", "consult", now_ms=T0 + 20_000)
    assert routing.transfer("c-1") == {} and commands(routing) == [] and routing.call("c-1").get("held") != "1"


def test_no_answer_gives_the_caller_back_to_its_desk_and_frees_the_target(consult):
    consult.transfer_start("c-1", "p-1", "fire", "consult", now_ms=T0 + 20_000)
    after = consult.transfer_step("c-1", "ringback", "cancelled", reason="NOANSWER", now_ms=T0 + 26_000)
    assert after["transfer_state"] == "cancelled"
    call = consult.call("c-1")
    assert (call["state"], call["desk"], call["held"], call["held_total_ms"], call["consult_desk"]) == (
        "on_call", "p-1", "0", "6000", "")
    assert consult.desk("f-2")["state"] == "ready" and consult.desk("p-1")["state"] == "on_call"
    # The desk may transfer again.
    assert consult.transfer_start("c-1", "p-1", "fire", "consult", now_ms=T0 + 30_000)["transfer_state"] == "ringback"


def test_a_target_phone_that_cannot_be_rung_frees_the_target_and_says_why(consult):
    consult.transfer_start("c-1", "p-1", "fire", "consult", now_ms=T0 + 20_000)
    consult.transfer_step("c-1", "ringback", "cancelled", reason="CHANUNAVAIL", now_ms=T0 + 20_050)
    freed = [e for e in consult.events(20) if e["type"] == "desk_state" and e["desk_id"] == "f-2"][-1]
    assert (freed["state"], freed["previous"], freed["reason"]) == ("ready", "ringing", "consultation cancelled: CHANUNAVAIL")
    step = [e for e in consult.events(20) if e["type"] == "transfer"][-1]
    assert (step["transfer_state"], step["reason"]) == ("cancelled", "CHANUNAVAIL")


def test_answered_then_completed_makes_the_call_the_target_desks(consult):
    consult.transfer_start("c-1", "p-1", "fire", "consult", now_ms=T0 + 20_000)
    consult.transfer_step("c-1", "ringback", "answered", now_ms=T0 + 22_000)
    assert consult.desk("f-2")["state"] == "on_call" and consult.call("c-1")["desk"] == "p-1"
    assert consult.call("c-1")["consult_desk"] == "f-2"
    with pytest.raises(RoutingRefused, match="is desk p-1's, not desk f-2's"):
        consult.transfer_consult("c-1", "f-2", "complete", now_ms=T0 + 23_000)
    asked = consult.transfer_consult("c-1", "p-1", "complete", by="lan", now_ms=T0 + 25_000)
    assert asked["transfer_state"] == "answered" and asked["command"]
    assert commands(consult)[-1]["action"] == "consult_complete"
    consult.transfer_step("c-1", "answered", "completed", wrap_up_ms=WRAP_UP_MS, now_ms=T0 + 25_500)
    call = consult.call("c-1")
    assert (call["state"], call["desk"], call["held"], call["transferred_from"], call["consult_desk"]) == (
        "on_call", "f-2", "0", "p-1", "")
    assert (consult.desk("f-2")["state"], consult.desk("f-2")["call_id"]) == ("on_call", "c-1")
    assert consult.desk("p-1")["state"] == "wrap_up"
    # The caller hangs up later: the call ends answered at the target desk.
    consult.hangup("c-1", WRAP_UP_MS, now_ms=T0 + 40_000)
    assert (consult.call("c-1")["state"], consult.call("c-1")["desk"]) == ("ended", "f-2")
    assert consult.desk("f-2")["state"] == "wrap_up"


def test_a_conference_keeps_both_desks_on_the_call_and_the_one_left_takes_it(consult):
    consult.transfer_start("c-1", "p-1", "fire", "consult", now_ms=T0 + 20_000)
    with pytest.raises(RoutingRefused, match="cannot conference while the transfer is ringback"):
        consult.transfer_consult("c-1", "p-1", "conference", now_ms=T0 + 21_000)
    consult.transfer_step("c-1", "ringback", "answered", now_ms=T0 + 22_000)
    asked = consult.transfer_consult("c-1", "p-1", "conference", by="lan", now_ms=T0 + 23_000)
    assert asked["command"] and commands(consult)[-1]["action"] == "consult_conference"
    consult.transfer_step("c-1", "answered", "conferenced", now_ms=T0 + 24_000)
    call = consult.call("c-1")
    assert (call["state"], call["desk"], call["held"], call["conference_desk"]) == ("on_call", "p-1", "0", "f-2")
    assert (consult.desk("f-2")["state"], consult.desk("f-2")["call_id"]) == ("on_call", "c-1")
    assert consult.desk("p-1")["state"] == "on_call"
    # The fire desk leaves: the caller is the police desk's again, the fire desk free.
    consult.transfer_step("c-1", "conferenced", "cancelled", now_ms=T0 + 30_000)
    call = consult.call("c-1")
    assert (call["desk"], call["conference_desk"], call["consult_desk"]) == ("p-1", "", "")
    assert consult.desk("f-2")["state"] == "ready" and consult.desk("p-1")["state"] == "on_call"


def test_the_initiator_leaving_a_conference_gives_the_call_to_the_target(consult):
    consult.transfer_start("c-1", "p-1", "fire", "consult", now_ms=T0 + 20_000)
    consult.transfer_step("c-1", "ringback", "answered", now_ms=T0 + 22_000)
    consult.transfer_step("c-1", "answered", "conferenced", now_ms=T0 + 24_000)
    consult.transfer_step("c-1", "conferenced", "completed", wrap_up_ms=WRAP_UP_MS, now_ms=T0 + 30_000)
    call = consult.call("c-1")
    assert (call["desk"], call["transferred_from"], call["conference_desk"]) == ("f-2", "p-1", "")
    assert (consult.desk("f-2")["state"], consult.desk("f-2")["call_id"]) == ("on_call", "c-1")
    assert consult.desk("p-1")["state"] == "wrap_up"


def test_consult_steps_are_refused_out_of_turn(consult):
    with pytest.raises(RoutingRefused, match="has no consultative transfer"):
        consult.transfer_consult("c-1", "p-1", "cancel", now_ms=T0 + 20_000)
    consult.transfer_start("c-1", "p-1", "fire", "consult", now_ms=T0 + 20_000)
    with pytest.raises(RoutingRefused, match="cannot complete while the transfer is ringback"):
        consult.transfer_consult("c-1", "p-1", "complete", now_ms=T0 + 21_000)
    assert consult.transfer_consult("c-1", "p-1", "cancel", now_ms=T0 + 21_000)["transfer_state"] == "ringback"
    assert commands(consult)[-1]["action"] == "consult_cancel"
