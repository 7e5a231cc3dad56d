"""A three-way conference on the real lab (telephony/call_control.py, hotline-conference and
confbridge.conf): the police desk consults a fire desk, then joins the caller with both in one
ConfBridge room named by the call id. The police desk hanging up leaves the caller with the
fire desk, whose call it is from then on."""

from __future__ import annotations

import re

import pytest

from queueing.transfers import TransferEvent
from tests.e2e.test_consult import _lines, _start
from tests.lab_fixtures import wait_call, wait_until

pytestmark = pytest.mark.e2e


def _members(hotline, room: str) -> list[str]:
    """The channels in ConfBridge room ``room`` (``confbridge list <room>``)."""
    out = hotline.asterisk.cli(f"confbridge list {room}", check=False).stdout
    return [m.group(0) for m in re.finditer(r"PJSIP/\S+", out)]


def _leave(hotline, routing, rec, desk: str, stays: str, transfer_state: str) -> list[str]:
    """``desk``'s leg hangs up in the room: the transfer steps to ``transfer_state`` and the caller
    stays in the room with ``stays``; the room's members after."""
    call_id = rec["call_id"]
    leg = next(m for m in _members(hotline, call_id) if m.startswith(f"PJSIP/{desk}-"))
    hotline.asterisk.cli(f"channel request hangup {leg}")
    wait_until(lambda: routing.transfer(call_id).get("transfer_state") == transfer_state, 15,
               f"the transfer {transfer_state}")
    wait_until(lambda: len(_members(hotline, call_id)) == 2, 10, "two channels left in the room")
    members = _members(hotline, call_id)
    assert rec["channel"] in members and any(m.startswith(f"PJSIP/{stays}-") for m in members)
    return members


def test_a_conference_joins_the_caller_and_both_desks_and_the_caller_stays_with_fire(hotline, phones):
    routing, actions, rec, police, fire, citizen = _start(hotline, phones, "0991000031",
                                                          answer_after_ms=1000, talk_ms=60000)
    call_id = rec["call_id"]
    assert fire.wait_for("ANSWERED", 10), fire.log_lines()
    wait_until(lambda: routing.transfer(call_id).get("transfer_state") == "answered", 10, "the consult answered")

    asked = actions.consult_step(call_id, TransferEvent.CONFERENCE, "desk-101", "test")
    assert asked["command"]
    wait_until(lambda: routing.transfer(call_id).get("transfer_state") == "conferenced", 15, "conferenced")
    wait_until(lambda: len(_members(hotline, call_id)) == 3, 10, "three channels in the room")
    members = _members(hotline, call_id)
    assert rec["channel"] in members
    assert any(m.startswith("PJSIP/desk-101-") for m in members)
    assert any(m.startswith("PJSIP/desk-201-") for m in members)
    call = routing.call(call_id)
    assert (call["state"], call["desk"], call["held"], call["conference_desk"]) == (
        "on_call", "desk-101", "0", "desk-201")
    assert (routing.desk("desk-201")["state"], routing.desk("desk-201")["call_id"]) == ("on_call", call_id)
    assert routing.desk("desk-101")["state"] == "on_call"

    # The police desk hangs up: the caller stays in the room with the fire desk, whose call it is.
    members = _leave(hotline, routing, rec, "desk-101", "desk-201", "completed")
    call = routing.call(call_id)
    assert (call["state"], call["desk"], call["transferred_from"], call["conference_desk"]) == (
        "on_call", "desk-201", "desk-101", "")
    assert (routing.desk("desk-201")["state"], routing.desk("desk-201")["call_id"]) == ("on_call", call_id)
    assert routing.desk("desk-101")["state"] in ("wrap_up", "ready")
    assert not _lines(citizen, "LINE HUNG UP|CITIZEN HUNG UP"), citizen.log_lines()

    # The fire desk hangs up too: the caller is not left alone; the call ends answered at desk-201.
    fire_leg = next(m for m in members if m.startswith("PJSIP/desk-201-"))
    hotline.asterisk.cli(f"channel request hangup {fire_leg}")
    ended = wait_call(hotline, "0991000031", ("ended",), timeout=20)
    assert (ended["desk"], ended["outcome"]) == ("desk-201", "answered")
    assert citizen.wait_for("LINE HUNG UP", 10), citizen.log_lines()
    states = [e["transfer_state"] for e in routing.events(300)
              if e.get("type") == "transfer" and e.get("call_id") == call_id]
    assert states == ["ringback", "answered", "conferenced", "completed"]
