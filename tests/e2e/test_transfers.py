"""Actions on a call on the real lab, carried out by the bridge (telephony/call_control.py): a
blind transfer from a police desk to the fire agency, and the call-taker hanging up the caller."""

from __future__ import annotations

import re

import pytest

from api.services.call_actions import CallActionService
from tests.lab_fixtures import wait_call, wait_until

pytestmark = pytest.mark.e2e


def _lines(phone, pattern: str) -> list[str]:
    return [ln for ln in phone.log_lines() if re.search(pattern, ln)]


def test_a_blind_transfer_takes_the_caller_from_a_police_desk_to_a_fire_desk(hotline, phones):
    police = phones.desk("desk-101", talk_ms=60000)
    fire = phones.desk("desk-201", ready=False, talk_ms=5000)  # cross-trained for police: not ready yet
    routing = hotline.routing()
    routing.set_desk_state("desk-201", "login")
    citizen = phones.citizen("0991000001", "1", stay_ms=60000)
    rec = wait_call(hotline, "0991000001", ("on_call",), timeout=30)
    assert (rec["queue"], rec["desk"]) == ("police", "desk-101")
    assert police.wait_for(r'ANSWERED', 5)
    routing.set_desk_state("desk-201", "ready")

    record = CallActionService(hotline.city, routing).transfer(rec["call_id"], "desk-101", "fire", "blind")
    assert record["transfer_state"] == "moving"

    # The police desk's leg is hung up by Asterisk; the caller waits, then rings at the fire desk
    # with the fire agency's label, and is answered there.
    assert police.wait_for("CALLER HUNG UP", 10), police.log_lines()
    assert fire.wait_for(r'RINGING from=\s*"FIRE RESCUE" <sip:0991000001@', 20), fire.log_lines()
    wait_until(lambda: (routing.call(rec["call_id"]).get("state"), routing.call(rec["call_id"]).get("desk")) == (
        "on_call", "desk-201"), 15, "the call answered at desk-201")
    moved = routing.call(rec["call_id"])
    assert (moved["state"], moved["queue"], moved["desk"], moved["transferred_from"]) == (
        "on_call", "fire", "desk-201", "desk-101")
    assert moved["priority"] == "0" and moved["priority_reason"] == "transfer"
    assert fire.wait_for("ANSWERED", 5)
    # Never dropped: the citizen's line is still up, and the transfer says where the caller went.
    assert not _lines(citizen, "LINE HUNG UP|CITIZEN HUNG UP"), citizen.log_lines()
    assert routing.transfer(rec["call_id"])["transfer_state"] == "requeued"
    states = [e["transfer_state"] for e in routing.events(200)
              if e.get("type") == "transfer" and e.get("call_id") == rec["call_id"]]
    assert states == ["moving", "requeued"]
    assert routing.desk("desk-101")["state"] in ("wrap_up", "ready")
    # The fire call-taker hangs up after talking: the call ends as answered, at desk-201.
    ended = wait_call(hotline, "0991000001", ("ended",), timeout=15)
    assert (ended["desk"], ended["outcome"], ended["queue"]) == ("desk-201", "answered", "fire")
    assert fire.wait_for("DESK HUNG UP", 5) and citizen.wait_for("LINE HUNG UP", 5)


def test_hangup_from_the_desk_ends_the_callers_channel_and_the_call(hotline, phones):
    desk = phones.desk("desk-102", talk_ms=60000)
    citizen = phones.citizen("0991000002", "1", stay_ms=60000)
    rec = wait_call(hotline, "0991000002", ("on_call",), timeout=30)
    assert rec["desk"] == "desk-102"
    routing = hotline.routing()

    reply = CallActionService(hotline.city, routing).hang_up(rec["call_id"], "desk-102", by="test")
    assert reply["action"] == "hangup"

    assert citizen.wait_for("LINE HUNG UP", 10), citizen.log_lines()
    assert desk.wait_for("CALLER HUNG UP", 10), desk.log_lines()
    ended = wait_call(hotline, "0991000002", ("ended",), timeout=10)
    assert (ended["desk"], ended["outcome"]) == ("desk-102", "answered")
    assert int(ended["ended_ms"]) >= int(ended["answered_ms"])
    actions = [e for e in routing.events(200) if e.get("type") == "call_action" and e.get("call_id") == rec["call_id"]]
    assert [(e["action"], e["by"]) for e in actions] == [("hangup", "test")]
