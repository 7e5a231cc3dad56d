"""The edges of a consultative transfer and a conference on the real lab (issue 9: never drop the
caller): the call-taker cancels while the fire desk rings; the fire desk rejects the consultation
(486); the fire desk's phone is not registered at all; the police desk hangs up while the two
desks talk; both desks hang up in the same instant; the fire desk leaves a three-way conference
first; the caller hangs up while the fire desk rings or talks. Each ends with the
caller talking to a desk (or gone by its own choice), no desk left busy with the call and no
channel left on hold music."""

from __future__ import annotations

import socket

import pytest

from api.services.call_actions import CallActionService
from hotline.lab.sipp import unregister_desk_phone
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


def _hang_up_at_once(hotline, *channels: str) -> None:
    """Hang ``channels`` up in one instant: a Hangup per channel, all in one AMI write."""
    site = hotline.site

    def block(fields: dict[str, str]) -> bytes:
        return ("".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode()

    def reply(stream) -> str:
        lines = []
        while (line := stream.readline().decode(errors="replace").strip()) or not lines:
            if line:
                lines.append(line)
        return "\n".join(lines)

    with socket.create_connection((site.ami_bind, site.ami_port), timeout=10) as conn:
        stream = conn.makefile("rwb")
        stream.readline()  # the banner
        stream.write(block({"Action": "Login", "Username": site.ami_user, "Secret": site.ami_secret,
                            "Events": "off"}))
        stream.flush()
        assert "Success" in reply(stream)
        stream.write(b"".join(block({"Action": "Hangup", "Channel": c, "Cause": "16"}) for c in channels))
        stream.flush()
        answers = [reply(stream) for _ in channels]
    assert all("Success" in a for a in answers), answers


def test_a_fire_desk_whose_phone_is_unregistered_gives_the_caller_back(hotline, phones):
    """Not a refusal (486): nothing answers for desk-201 at all. Its phone went off the line while
    its call-taker is still signed in Ready, so hotline offers it the consultation."""
    off = unregister_desk_phone(hotline.sip_target, "desk-201", hotline.site.desk_passwords["desk-201"],
                                phones.workdir)
    phones.runs.append(off)
    assert off.wait_for("UNREGISTERED", 15), off.log_lines()
    assert "desk-201" not in hotline.asterisk.cli("pjsip show contacts").stdout
    police = phones.desk("desk-101", talk_ms=60000)
    routing = hotline.routing()
    routing.set_desk_state("desk-201", "login")  # cross-trained for police: not ready yet
    citizen = phones.citizen("0991000048", "1", stay_ms=60000)
    rec = wait_call(hotline, "0991000048", ("on_call",), timeout=30)
    call_id = rec["call_id"]
    assert (rec["queue"], rec["desk"]) == ("police", "desk-101")
    assert police.wait_for("ANSWERED", 5)
    routing.set_desk_state("desk-201", "ready")

    record = CallActionService(hotline.city, routing).transfer(call_id, "desk-101", "fire", "consult")
    assert (record["transfer_state"], record["target_desk"]) == ("ringback", "desk-201")
    wait_until(lambda: routing.transfer(call_id).get("transfer_state") == "cancelled", 15, "the consult cancelled")
    _caller_back_with_police(hotline, routing, rec, police, citizen)
    assert _transfer_states(routing, call_id) == ["ringback", "cancelled"]
    # Why, on the audit trail: Asterisk could not ring the phone (Dial: CHANUNAVAIL), not a time-out.
    assert routing.transfer(call_id)["reason"] == "CHANUNAVAIL"
    desk = routing.desk("desk-201")
    assert (desk["state"], desk["call_id"]) == ("ready", "")
    freed = [e for e in routing.events(500) if e.get("type") == "desk_state" and e.get("desk_id") == "desk-201"][-1]
    assert (freed["previous"], freed["state"], freed["reason"]) == ("ringing", "ready",
                                                                    "consultation cancelled: CHANUNAVAIL")
    assert not _rows(hotline, "PJSIP/desk-201-")
    assert not _waiting(hotline), _waiting(hotline)


def test_both_desks_hanging_up_at_once_mid_consultation_leave_each_desk_one_caller(hotline, phones):
    """desk-101 consults desk-201 (the caller A held); meanwhile caller B waits in the police queue.
    Both desks' legs end in the same instant: A is not dropped but waits at the head of its queue,
    both desks are freed, and the two callers go to the two desks, one each."""
    routing, _, rec, police, fire, citizen = _answered(hotline, phones, "0991000049")
    call_id = rec["call_id"]
    waiting = phones.citizen("0991000050", "1", stay_ms=60000)
    second = wait_call(hotline, "0991000050", ("queued",), timeout=30)
    assert second["queue"] == "police"
    hung_up_ms = routing.clock()
    _hang_up_at_once(hotline, _leg(hotline, "desk-101"), _leg(hotline, "desk-201"))

    wait_until(lambda: routing.transfer(call_id).get("transfer_state") not in ("ringback", "answered"), 15,
               "the transfer over")
    # The initiator gone and the target leg with it: the caller at the head of its own queue (or
    # given back to the initiator first, whose leg is gone, then there: whichever event came first).
    assert routing.transfer(call_id)["transfer_state"] in ("requeued", "cancelled")
    requeued = [e for e in routing.events(500) if e.get("type") == "call_queued" and e.get("call_id") == call_id
                and int(e["ms"]) >= hung_up_ms]
    assert [(e["queue"], e["priority"]) for e in requeued] == [("police", "0")], requeued
    both = wait_until(lambda: all((c := routing.call(r["call_id"]))["state"] == "on_call" and c
                                  for r in (rec, second)) and [routing.call(r["call_id"]) for r in (rec, second)],
                      30, "both callers answered")
    assert sorted(c["desk"] for c in both) == ["desk-101", "desk-201"]
    for c in both:
        assert (routing.desk(c["desk"])["state"], routing.desk(c["desk"])["call_id"]) == ("on_call", c["call_id"])
    offers = [(e["call_id"], e["desk_id"]) for e in routing.events(500)
              if e.get("type") == "offered" and int(e["ms"]) >= hung_up_ms]
    assert sorted(offers) == sorted((c["call_id"], c["desk"]) for c in both), offers
    assert _transfer_states(routing, call_id)[:2] == ["ringback", "answered"]
    assert not _waiting(hotline), _waiting(hotline)
    assert not _lines(citizen, "LINE HUNG UP|CITIZEN HUNG UP"), citizen.log_lines()
    assert not _lines(waiting, "LINE HUNG UP|CITIZEN HUNG UP"), waiting.log_lines()
