"""The edges of a consultative transfer and a conference on the real lab (issue 9: never drop the
caller): the call-taker cancels while the fire desk rings; the fire desk rejects the consultation
(486); the police desk hangs up while the two desks talk; the fire desk leaves a three-way
conference first; the caller hangs up while the fire desk rings or talks. Each ends with the
caller talking to a desk (or gone by its own choice), no desk left busy with the call and no
channel left on hold music."""

from __future__ import annotations

import pytest

from queueing.transfers import TransferEvent
from tests.e2e.test_conference import _leave, _members
from tests.e2e.test_consult import _bridged_with, _lines, _rows, _start
from tests.lab_fixtures import wait_call, wait_until

pytestmark = pytest.mark.e2e

#: Where a channel waits with nobody talking to it: the caller's music, a desk's leg waiting for it.
WAITING_CONTEXTS = ("hotline-hold", "hotline-desk-hold", "hotline-consult", "hotline-wait")


def _transfer_states(routing, call_id: str) -> list[str]:
    return [e["transfer_state"] for e in routing.events(500)
            if e.get("type") == "transfer" and e.get("call_id") == call_id]


def _leg(hotline, desk: str) -> str:
    legs = [r[0] for r in _rows(hotline, f"PJSIP/{desk}-")]
    assert len(legs) == 1, legs
    return legs[0]


def _waiting(hotline) -> list[list[str]]:
    """Channels left waiting alone: in a waiting context and in no bridge (concise field 13). A
    desk's leg taken into a caller's Bridge() keeps its old context there, bridged."""
    return [r for r in _rows(hotline, "") if len(r) > 12 and r[1] in WAITING_CONTEXTS and not r[12]]


def _no_channels(hotline) -> bool:
    return "0 active channels" in hotline.asterisk.cli("core show channels count").stdout


def _answered(hotline, phones, caller: str):
    """_start with a fire desk that answers the consultation: the two desks talk, the caller held."""
    started = _start(hotline, phones, caller, answer_after_ms=1000, talk_ms=60000)
    routing, rec, fire = started[0], started[2], started[4]
    assert fire.wait_for("ANSWERED", 10), fire.log_lines()
    wait_until(lambda: routing.transfer(rec["call_id"]).get("transfer_state") == "answered", 10,
               "the consult answered")
    return started


def _caller_back_with_police(hotline, routing, rec, police, citizen) -> None:
    """The caller talks with desk-101 again, off hold, nobody hung up."""
    wait_until(lambda: _bridged_with(hotline, rec["channel"], "desk-101"), 10, "the caller bridged with desk-101")
    call = routing.call(rec["call_id"])
    assert (call["state"], call["desk"], call["held"], call["consult_desk"]) == ("on_call", "desk-101", "0", "")
    assert (routing.desk("desk-101")["state"], routing.desk("desk-101")["call_id"]) == ("on_call", rec["call_id"])
    assert not any(r[1] == "hotline-hold" for r in _rows(hotline, rec["channel"]))
    assert not _lines(citizen, "LINE HUNG UP|CITIZEN HUNG UP"), citizen.log_lines()
    assert not _lines(police, "CALLER HUNG UP|DESK HUNG UP"), police.log_lines()


def test_the_call_taker_cancels_while_the_fire_desk_rings(hotline, phones):
    routing, actions, rec, police, fire, citizen = _start(hotline, phones, "0991000041", answer=False)
    call_id = rec["call_id"]
    # As the console's Q key: POST /calls/{id}/transfer/cancel → CallActionService.consult_step.
    asked = actions.consult_step(call_id, TransferEvent.CANCEL, "desk-101", "test")
    assert asked["command"] and asked["transfer_state"] == "ringback"
    wait_until(lambda: routing.transfer(call_id).get("transfer_state") == "cancelled", 15, "the consult cancelled")
    # The initiator's word, not the ring time-out: the step carries no DIALSTATUS.
    assert routing.transfer(call_id)["reason"] != "NOANSWER"
    assert fire.wait_for("CANCELLED", 10), fire.log_lines()
    _caller_back_with_police(hotline, routing, rec, police, citizen)
    assert routing.desk("desk-201")["state"] == "ready"
    assert not _rows(hotline, "PJSIP/desk-201-")
    assert _transfer_states(routing, call_id) == ["ringback", "cancelled"]
    assert any(e.get("type") == "call_action" and e.get("action") == "consult_cancel" and e.get("call_id") == call_id
               for e in routing.events(500))


def test_a_fire_desk_that_rejects_the_consultation_gives_the_caller_back(hotline, phones):
    routing, _, rec, police, fire, citizen = _start(hotline, phones, "0991000042", reject=True,
                                                    answer_after_ms=1000)
    call_id = rec["call_id"]
    assert fire.wait_for("REJECTED", 10), fire.log_lines()
    wait_until(lambda: routing.transfer(call_id).get("transfer_state") == "cancelled", 15, "the consult cancelled")
    assert routing.transfer(call_id)["reason"] == "BUSY"
    _caller_back_with_police(hotline, routing, rec, police, citizen)
    assert routing.desk("desk-201")["state"] == "ready"
    assert not _rows(hotline, "PJSIP/desk-201-")
    assert _transfer_states(routing, call_id) == ["ringback", "cancelled"]


def test_the_police_desk_hanging_up_mid_consultation_leaves_the_caller_with_fire(hotline, phones):
    routing, _, rec, police, fire, citizen = _answered(hotline, phones, "0991000043")
    call_id = rec["call_id"]
    hotline.asterisk.cli(f"channel request hangup {_leg(hotline, 'desk-101')}")

    wait_until(lambda: routing.transfer(call_id).get("transfer_state") == "completed", 15, "the transfer completed")
    wait_until(lambda: _bridged_with(hotline, rec["channel"], "desk-201"), 10, "the caller bridged with desk-201")
    call = routing.call(call_id)
    assert (call["state"], call["desk"], call["held"], call["transferred_from"], call["consult_desk"]) == (
        "on_call", "desk-201", "0", "desk-101", "")
    assert (routing.desk("desk-201")["state"], routing.desk("desk-201")["call_id"]) == ("on_call", call_id)
    wait_until(lambda: routing.desk("desk-101")["state"] in ("wrap_up", "ready"), 10, "desk-101 wraps up")
    assert not _waiting(hotline), _waiting(hotline)
    assert not _lines(citizen, "LINE HUNG UP|CITIZEN HUNG UP"), citizen.log_lines()
    assert not _lines(fire, "CALLER HUNG UP"), fire.log_lines()
    assert _transfer_states(routing, call_id) == ["ringback", "answered", "completed"]
    # The fire call-taker ends the call: answered, at desk-201.
    hotline.asterisk.cli(f"channel request hangup {_leg(hotline, 'desk-201')}")
    ended = wait_call(hotline, "0991000043", ("ended",), timeout=20)
    assert (ended["desk"], ended["outcome"]) == ("desk-201", "answered")
    assert citizen.wait_for("LINE HUNG UP", 10), citizen.log_lines()


def test_the_police_desk_hanging_up_while_fire_rings_puts_the_caller_at_the_head_of_fire(hotline, phones):
    routing, _, rec, police, fire, citizen = _start(hotline, phones, "0991000044", answer=False)
    call_id = rec["call_id"]
    hotline.asterisk.cli(f"channel request hangup {_leg(hotline, 'desk-101')}")
    # Becomes blind (queueing/transfers.py): the caller waits at the head of the fire queue, whose
    # ready desk (desk-201, its consultation stopped) is offered it.
    wait_until(lambda: routing.transfer(call_id).get("transfer_state") == "requeued", 15, "the transfer requeued")
    assert fire.wait_for("CANCELLED", 10), fire.log_lines()
    wait_until(lambda: routing.call(call_id).get("queue") == "fire", 10, "the caller in the fire queue")
    call = routing.call(call_id)
    assert (call["priority"], call["held"], call["transferred_from"], call["consult_desk"]) == ("0", "0", "desk-101", "")
    assert call["state"] in ("queued", "ringing", "on_call")
    wait_until(lambda: routing.desk("desk-101")["state"] in ("wrap_up", "ready"), 10, "desk-101 wraps up")
    assert not any(r[1] in ("hotline-hold", "hotline-desk-hold", "hotline-consult")
                   for r in _waiting(hotline)), _waiting(hotline)
    assert not _lines(citizen, "LINE HUNG UP|CITIZEN HUNG UP"), citizen.log_lines()
    assert _transfer_states(routing, call_id) == ["ringback", "requeued"]


def test_the_fire_desk_leaving_a_conference_first_leaves_the_caller_with_police(hotline, phones):
    routing, actions, rec, police, fire, citizen = _answered(hotline, phones, "0991000045")
    call_id = rec["call_id"]
    actions.consult_step(call_id, TransferEvent.CONFERENCE, "desk-101", "test")
    wait_until(lambda: len(_members(hotline, call_id)) == 3, 15, "three channels in the room")
    _leave(hotline, routing, rec, "desk-201", "desk-101", "cancelled")
    call = routing.call(call_id)
    assert (call["state"], call["desk"], call["held"], call["conference_desk"], call["consult_desk"]) == (
        "on_call", "desk-101", "0", "", "")
    assert (routing.desk("desk-101")["state"], routing.desk("desk-101")["call_id"]) == ("on_call", call_id)
    wait_until(lambda: routing.desk("desk-201")["state"] in ("wrap_up", "ready"), 10, "desk-201 free again")
    assert not _lines(citizen, "LINE HUNG UP|CITIZEN HUNG UP"), citizen.log_lines()
    assert not _lines(police, "CALLER HUNG UP"), police.log_lines()
    assert _transfer_states(routing, call_id) == ["ringback", "answered", "conferenced", "cancelled"]
    # The police call-taker ends the call: answered, at desk-101.
    hotline.asterisk.cli(f"channel request hangup {_leg(hotline, 'desk-101')}")
    ended = wait_call(hotline, "0991000045", ("ended",), timeout=20)
    assert (ended["desk"], ended["outcome"]) == ("desk-101", "answered")
    assert citizen.wait_for("LINE HUNG UP", 10), citizen.log_lines()


@pytest.mark.parametrize("fire_answers", [False, True], ids=["ringing", "answered"])
def test_the_caller_hanging_up_mid_consultation_frees_both_desks(hotline, phones, fire_answers):
    caller = "0991000047" if fire_answers else "0991000046"
    started = _answered(hotline, phones, caller) if fire_answers else _start(hotline, phones, caller, answer=False)
    routing, _, rec, police, fire, citizen = started
    call_id = rec["call_id"]
    hotline.asterisk.cli(f"channel request hangup {rec['channel']}")

    ended = wait_call(hotline, caller, ("ended",), timeout=20)
    assert (ended["desk"], ended["outcome"]) == ("desk-101", "answered")
    wait_until(lambda: routing.transfer(call_id).get("transfer_state") == "ended", 15, "the transfer ended")
    # Neither desk keeps talking or ringing for a caller who is gone; nobody is left on hold music.
    wait_until(lambda: _no_channels(hotline), 15, "every channel hung up")
    wait_until(lambda: routing.desk("desk-101")["state"] in ("wrap_up", "ready"), 10, "desk-101 free again")
    wait_until(lambda: routing.desk("desk-201")["state"] in ("wrap_up", "ready"), 10, "desk-201 free again")
    assert citizen.wait_for("LINE HUNG UP", 10), citizen.log_lines()
    assert fire.wait_for("CALLER HUNG UP" if fire_answers else "CANCELLED", 10), fire.log_lines()
    assert police.wait_for("CALLER HUNG UP", 10), police.log_lines()
    expected = ["ringback", "answered", "ended"] if fire_answers else ["ringback", "ended"]
    assert _transfer_states(routing, call_id) == expected
