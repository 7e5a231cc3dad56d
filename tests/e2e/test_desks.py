"""Desks on the real lab: feature codes dialed on the desk phone, and ring no-answer."""

from __future__ import annotations

import pytest

from hotline.lab.sipp import dial_from_desk
from tests.lab_fixtures import wait_call, wait_until

pytestmark = pytest.mark.e2e


def _dial(hotline, phones, desk_id: str, code: str):
    run = dial_from_desk(hotline.sip_target, desk_id, hotline.site.desk_passwords[desk_id], code, phones.workdir)
    phones.runs.append(run)
    assert run.wait(20) == 0, f"{desk_id} dialing {code}: sipp failed: {run.log_lines()}"
    return run


def test_feature_codes_on_the_desk_phone_log_in_ready_pause_and_log_out(hotline, phones):
    phones.desk("desk-201", ready=False)
    routing = hotline.routing()
    assert routing.desk("desk-201")["state"] == "offline"

    _dial(hotline, phones, "desk-201", "*71")  # pause while logged out: refused
    assert routing.desk("desk-201")["state"] == "offline"
    _dial(hotline, phones, "desk-201", "*73")  # log in
    assert (routing.desk("desk-201")["state"], routing.desk("desk-201")["reason"]) == ("paused", "logged in")
    _dial(hotline, phones, "desk-201", "*70")  # ready
    assert routing.desk("desk-201")["state"] == "ready"
    _dial(hotline, phones, "desk-201", "*71")  # pause
    assert (routing.desk("desk-201")["state"], routing.desk("desk-201")["reason"]) == (
        "paused", "paused from the desk phone")
    _dial(hotline, phones, "desk-201", "*72")  # log out
    assert routing.desk("desk-201")["state"] == "offline"
    states = [e["state"] for e in routing.events(50) if e.get("type") == "desk_state" and e.get("desk_id") == "desk-201"]
    assert states == ["paused", "ready", "paused", "offline"]


def test_a_desk_that_does_not_answer_gives_the_caller_to_the_next_desk(hotline, phones):
    phones.desk("desk-101", answer=False)  # ready first: the longest idle, offered first
    phones.desk("desk-102", talk_ms=1000)
    phones.citizen("0966000001", "1", stay_ms=40000)
    rec = wait_call(hotline, "0966000001", ("ended",), timeout=40)
    assert rec["desk"] == "desk-102"
    assert rec["ring_attempts"] == "2"
    desk = hotline.routing().desk("desk-101")
    assert (desk["state"], desk["misses"]) == ("ready", "1")


def test_a_desk_missing_calls_is_paused_and_the_caller_keeps_waiting(hotline, phones):
    limit = hotline.city.queueing.missed_calls_before_pause
    phones.desk("desk-101", answer=False)
    phones.citizen("0966000002", "1", stay_ms=60000)
    routing = hotline.routing()
    wait_until(lambda: routing.desk("desk-101").get("state") == "paused", 8 * limit,
          "desk-101 paused after missed calls")
    assert routing.desk("desk-101")["reason"] == "missed calls"
    rec = wait_call(hotline, "0966000002", ("queued",), timeout=5)
    assert rec["ring_attempts"] == str(limit)
    phones.desk("desk-102", talk_ms=1000)  # another call-taker gets ready
    rec = wait_call(hotline, "0966000002", ("ended",), timeout=20)
    assert (rec["desk"], rec["outcome"]) == ("desk-102", "answered")


def test_drift_command_reports_and_repairs(hotline, phones):
    """Redis and Asterisk made to disagree behind the bridge's back, then `hotline drift`."""
    import subprocess
    import sys

    hotline.kill_bridge(0)  # nobody reconciles meanwhile
    try:
        routing = hotline.routing()
        routing.arrive("ghost-1", "0999000001", "PJSIP/citizens-ghost")  # a caller Asterisk never had
        routing.enqueue("ghost-1", "police", 1)
        env = hotline.bridge_env()
        cmd = [sys.executable, "-m", "hotline.cli", "drift"]
        report = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert report.returncode == 1, report.stderr
        assert "caller_gone" in report.stdout and "ghost-1" in report.stdout
        assert routing.call("ghost-1")["state"] == "queued"  # a report changes nothing
        fixed = subprocess.run(cmd + ["--repair"], env=env, capture_output=True, text=True, timeout=60)
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        assert "left: 0" in fixed.stdout
        rec = routing.call("ghost-1")
        assert (rec["state"], rec["abandon_stage"]) == ("abandoned", "queued")
        assert routing.queue("police") == []
        again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0 and "no drift" in again.stdout
    finally:
        hotline.start_bridge()
