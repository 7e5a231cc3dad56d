"""Hold and resume on the real lab (telephony/call_control.py, hotline-hold / hotline-desk-hold /
hotline-resume in the dialplan): the caller hears music while its desk waits, the two talk again
after resume, and the call then ends as any answered call; a desk that hangs up on a held caller
leaves it at the head of its queue, never dropped."""

from __future__ import annotations

import re

import pytest

from api.services.call_actions import CallActionService
from tests.lab_fixtures import wait_call, wait_until

pytestmark = pytest.mark.e2e


def _channels(hotline) -> list[str]:
    return hotline.asterisk.cli("core show channels concise").stdout.splitlines()


def _where(hotline, prefix: str) -> list[str]:
    """Concise rows (channel!context!exten!prio!state!app!data!…) of channels starting with ``prefix``."""
    return [row for row in _channels(hotline) if row.startswith(prefix)]


def _lines(phone, pattern: str) -> list[str]:
    return [ln for ln in phone.log_lines() if re.search(pattern, ln)]


def test_hold_then_resume_then_the_desk_hangs_up_and_the_call_ends_answered(hotline, phones):
    # Talk time: hold and resume take about a second after the answer; the rest is margin
    # before the desk's own hang-up ends the call.
    desk = phones.desk("desk-101", talk_ms=10000)
    citizen = phones.citizen("0991000011", "1", stay_ms=60000)
    rec = wait_call(hotline, "0991000011", ("on_call",), timeout=30)
    assert rec["desk"] == "desk-101"
    assert desk.wait_for("ANSWERED", 5)
    routing = hotline.routing()
    actions = CallActionService(hotline.city, routing)
    caller = rec["channel"]

    assert actions.hold(rec["call_id"], "desk-101", by="test")["held"] == "1"
    # The caller hears music in hotline-hold; the desk's leg waits in hotline-desk-hold.
    wait_until(lambda: any("!hotline-hold!" in r for r in _where(hotline, caller)), 10, "the caller in hotline-hold")
    wait_until(lambda: any("!hotline-desk-hold!" in r for r in _where(hotline, "PJSIP/desk-101")), 10,
               "the desk's leg in hotline-desk-hold")
    verbose = hotline.asterisk.cli(f"core show channel {caller}").stdout
    assert re.search(r"Music Class|MOH|Moh", verbose, re.I) or "hotline-hold" in verbose, verbose
    assert routing.call(rec["call_id"])["held"] == "1"
    assert routing.call(rec["call_id"])["state"] == "on_call"

    assert actions.resume(rec["call_id"], "desk-101", by="test")["held"] == "0"
    # Talking again: both in one bridge, the caller in hotline-resume's Bridge().
    wait_until(lambda: any("!hotline-resume!" in r and "!Bridge!" in r for r in _where(hotline, caller)), 10,
               "the caller bridged again from hotline-resume")
    bridges = hotline.asterisk.cli("bridge show all").stdout
    assert re.search(r"\s2\s", bridges) or "2" in bridges, bridges
    assert routing.call(rec["call_id"])["held"] == "0"

    # The desk hangs up at the end of its talk time: the call ends as answered, the caller's line with it.
    assert desk.wait_for("DESK HUNG UP", 30), desk.log_lines()
    ended = wait_call(hotline, "0991000011", ("ended",), timeout=15)
    assert (ended["desk"], ended["outcome"]) == ("desk-101", "answered")
    assert citizen.wait_for("LINE HUNG UP", 10), citizen.log_lines()
    # Never hung up by us while held; no resume or hold failed.
    types = [e["type"] for e in routing.events(300) if e.get("call_id") == rec["call_id"]]
    assert "call_held" in types and "call_resumed" in types
    assert not {"call_hold_failed", "call_resume_failed", "call_hold_desk_left"} & set(types), types
    assert not _lines(desk, "CALLER HUNG UP"), desk.log_lines()


def test_a_desk_hanging_up_on_a_held_caller_leaves_it_at_the_head_of_its_queue(hotline, phones):
    desk = phones.desk("desk-101", talk_ms=6000)
    citizen = phones.citizen("0991000012", "1", stay_ms=60000)
    rec = wait_call(hotline, "0991000012", ("on_call",), timeout=30)
    assert desk.wait_for("ANSWERED", 5)
    routing = hotline.routing()
    CallActionService(hotline.city, routing).hold(rec["call_id"], "desk-101", by="test")
    wait_until(lambda: any("!hotline-hold!" in r for r in _where(hotline, rec["channel"])), 10, "the caller held")

    # desk-101 hangs up at the end of its talk time, the caller still on hold: queued at the head.
    assert desk.wait_for("DESK HUNG UP", 30), desk.log_lines()
    queued = wait_call(hotline, "0991000012", ("queued",), timeout=10)
    assert (queued["queue"], queued["priority"], queued["desk"], queued["held"]) == ("police", "0", "", "0")
    assert routing.desk("desk-101")["state"] in ("wrap_up", "ready")
    wait_until(lambda: any("!hotline-wait!" in r for r in _where(hotline, rec["channel"])), 10, "the caller waiting")
    assert not _lines(citizen, "LINE HUNG UP|CITIZEN HUNG UP"), citizen.log_lines()
    # Another police desk gets it.
    phones.desk("desk-102", talk_ms=3000)
    wait_until(lambda: routing.call(rec["call_id"]).get("desk") == "desk-102", 20, "the caller answered at desk-102")
