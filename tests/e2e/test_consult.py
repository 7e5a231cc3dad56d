"""A consultative transfer on the real lab (telephony/call_control.py, hotline-consult in the
dialplan): the caller hears hold music while its police desk's leg dials a fire desk. Not
answered: the caller talks with the police desk again. Answered, then completed: the caller
talks with the fire desk, whose call it is from then on, and the police desk wraps up."""

from __future__ import annotations

import re

import pytest

from api.services.call_actions import CallActionService
from queueing.transfers import TransferEvent
from tests.lab_fixtures import wait_call, wait_until

pytestmark = pytest.mark.e2e


def _rows(hotline, prefix: str) -> list[list[str]]:
    """Concise rows (channel!context!exten!prio!state!app!data!…!bridgeid!uniqueid) of channels starting with ``prefix``."""
    rows = hotline.asterisk.cli("core show channels concise").stdout.splitlines()
    return [row.split("!") for row in rows if row.startswith(prefix)]


def _bridged_with(hotline, caller: str, desk: str) -> bool:
    """The caller's channel and a leg of ``desk`` are in one bridge (concise field 13: the bridge id)."""
    mine = [r[12] for r in _rows(hotline, caller) if len(r) > 12 and r[12]]
    theirs = [r[12] for r in _rows(hotline, f"PJSIP/{desk}-") if len(r) > 12 and r[12]]
    return bool(mine) and mine[0] in theirs


def _lines(phone, pattern: str) -> list[str]:
    return [ln for ln in phone.log_lines() if re.search(pattern, ln)]


def _start(hotline, phones, caller: str, **fire):
    police = phones.desk("desk-101", talk_ms=60000)
    fire_phone = phones.desk("desk-201", ready=False, **fire)  # cross-trained for police: not ready yet
    routing = hotline.routing()
    routing.set_desk_state("desk-201", "login")
    citizen = phones.citizen(caller, "1", stay_ms=60000)
    rec = wait_call(hotline, caller, ("on_call",), timeout=30)
    assert (rec["queue"], rec["desk"]) == ("police", "desk-101")
    assert police.wait_for("ANSWERED", 5)
    routing.set_desk_state("desk-201", "ready")
    actions = CallActionService(hotline.city, routing)
    record = actions.transfer(rec["call_id"], "desk-101", "fire", "consult")
    assert (record["transfer_state"], record["target_desk"]) == ("ringback", "desk-201")
    # The caller hears music; desk-201 rings, offered to nobody else meanwhile.
    wait_until(lambda: any(r[1] == "hotline-hold" for r in _rows(hotline, rec["channel"])), 10, "the caller held")
    assert fire_phone.wait_for("RINGING", 10), fire_phone.log_lines()
    assert routing.desk("desk-201")["state"] in ("ringing", "on_call")
    return routing, actions, rec, police, fire_phone, citizen


def test_a_fire_desk_that_does_not_answer_gives_the_caller_back_to_the_police_desk(hotline, phones):
    routing, _, rec, police, fire, citizen = _start(hotline, phones, "0991000021", answer=False)
    call_id = rec["call_id"]
    # Ring time-out (5 s in the lab city): cancelled, the caller bridged with desk-101's leg again.
    wait_until(lambda: routing.transfer(call_id).get("transfer_state") == "cancelled", 20, "the consult cancelled")
    wait_until(lambda: _bridged_with(hotline, rec["channel"], "desk-101"), 10, "the caller bridged with desk-101")
    assert fire.wait_for("CANCELLED", 5), fire.log_lines()
    call = routing.call(call_id)
    assert (call["state"], call["desk"], call["held"]) == ("on_call", "desk-101", "0")
    assert routing.desk("desk-101")["state"] == "on_call"
    assert routing.desk("desk-201")["state"] == "ready"
    assert not _lines(citizen, "LINE HUNG UP|CITIZEN HUNG UP"), citizen.log_lines()
    assert not _lines(police, "CALLER HUNG UP"), police.log_lines()
    states = [e["transfer_state"] for e in routing.events(300)
              if e.get("type") == "transfer" and e.get("call_id") == call_id]
    assert states == ["ringback", "cancelled"]


def test_a_fire_desk_that_answers_takes_the_caller_once_completed(hotline, phones):
    # The fire desk talks 7 s: the transfer completes about half a second after its answer.
    routing, actions, rec, police, fire, citizen = _start(hotline, phones, "0991000022",
                                                          answer_after_ms=1000, talk_ms=7000)
    call_id = rec["call_id"]
    assert fire.wait_for("ANSWERED", 10), fire.log_lines()
    wait_until(lambda: routing.transfer(call_id).get("transfer_state") == "answered", 10, "the consult answered")
    # The two desks talk; the caller still hears music.
    wait_until(lambda: any(r[1] == "hotline-hold" for r in _rows(hotline, rec["channel"])), 5, "the caller held")
    assert routing.desk("desk-201")["state"] == "on_call"

    asked = actions.consult_step(call_id, TransferEvent.COMPLETE, "desk-101", "test")
    assert asked["command"]
    wait_until(lambda: routing.transfer(call_id).get("transfer_state") == "completed", 15, "the transfer completed")
    wait_until(lambda: _bridged_with(hotline, rec["channel"], "desk-201"), 10, "the caller bridged with desk-201")
    call = routing.call(call_id)
    assert (call["state"], call["desk"], call["held"], call["transferred_from"]) == (
        "on_call", "desk-201", "0", "desk-101")
    assert (routing.desk("desk-201")["state"], routing.desk("desk-201")["call_id"]) == ("on_call", call_id)
    # The police desk's leg is hung up; it wraps up.
    assert police.wait_for("CALLER HUNG UP", 10), police.log_lines()
    assert routing.desk("desk-101")["state"] in ("wrap_up", "ready")
    assert any(e.get("type") == "desk_state" and e.get("desk_id") == "desk-101" and e.get("state") == "wrap_up"
               for e in routing.events(300))
    assert not _lines(citizen, "LINE HUNG UP|CITIZEN HUNG UP"), citizen.log_lines()
    # The fire call-taker hangs up after talking: the call ends answered, at desk-201.
    ended = wait_call(hotline, "0991000022", ("ended",), timeout=20)
    assert (ended["desk"], ended["outcome"]) == ("desk-201", "answered")
    assert fire.wait_for("DESK HUNG UP", 5) and citizen.wait_for("LINE HUNG UP", 5)
