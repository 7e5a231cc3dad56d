"""Fault injection with the real lab: processes killed, links cut, Redis and Asterisk
restarted, desks misbehaving. Calls are placed before, during and after each fault, and
every caller is accounted for: answered by a desk, or on a callback list — lost must be 0.
"""

from __future__ import annotations

import time

import pytest

from tests.faults.cable import CuttableLink, SlowRedirectLink
from tests.faults.ledger import Ledger
from tests.lab_fixtures import call_of, wait_call, wait_until

pytestmark = pytest.mark.faults


def settle(ledger: Ledger, timeout: float = 60) -> dict:
    """Wait until every placed caller is answered or on a callback list, then account."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = all(call_of(ledger.lab, c).get("state") in ("ended", "abandoned") for c in ledger.callers)
        if done:
            break
        time.sleep(0.5)
    row = ledger.account()
    assert row["lost"] == 0, f"{ledger.fault}: lost {row['lost_callers']}"
    return row


def place(ledger: Ledger, phones, caller: str, digits: str = "1", **kw):
    ledger.callers.append(caller)
    return phones.citizen(caller, digits, **kw)


def desk(ledger: Ledger, phones, desk_id: str, **kw):
    phone = phones.desk(desk_id, **kw)
    ledger.desk_phones.append(phone)
    return phone


def rings(phone) -> list[str]:
    return [ln.split("<sip:", 1)[1].split("@", 1)[0] for ln in phone.log_lines() if ln.startswith("RINGING from=")]


def test_bridge_killed_while_callers_wait_and_one_is_in_the_ivr(hotline, phones):
    ledger = Ledger("bridge SIGKILL (2 callers waiting, 1 in the IVR)", hotline)
    phone = desk(ledger, phones, "desk-101", talk_ms=1000)
    place(ledger, phones, "0990100001", stay_ms=60000)  # before
    wait_call(hotline, "0990100001", ("ended",), timeout=30)
    routing = hotline.routing()
    wait_until(lambda: routing.desk("desk-101")["state"] in ("wrap_up", "ready"), 10, "desk-101 free")
    routing.set_desk_state("desk-101", "paused", reason="fault test")

    place(ledger, phones, "0990100002", stay_ms=90000)
    wait_call(hotline, "0990100002", ("queued",), timeout=20)
    place(ledger, phones, "0990100003", stay_ms=90000)
    wait_call(hotline, "0990100003", ("queued",), timeout=20)
    place(ledger, phones, "0990100004", "", stay_ms=90000)  # silent: still in the menu
    wait_call(hotline, "0990100004", ("ivr",), timeout=10)

    hotline.kill_bridge(0)
    hotline.start_bridge()
    # The waiting callers kept their place (the dialplan held them with music meanwhile).
    assert routing.queue("police") == [call_of(hotline, "0990100002")["call_id"], call_of(hotline, "0990100003")["call_id"]]
    routing.set_desk_state("desk-101", "ready")
    place(ledger, phones, "0990100005", stay_ms=90000)  # after

    row = settle(ledger, timeout=90)
    assert row["answered"] == 5
    order = rings(phone)
    assert order.index("0990100002") < order.index("0990100003")
    for caller in ("0990100002", "0990100003"):
        assert call_of(hotline, caller)["fallback_reason"] == ""  # delivered by the bridge, in place


def test_ami_link_cut_for_30_seconds(hotline, phones):
    ledger = Ledger("AMI link cut for 30 s", hotline)
    link = CuttableLink(hotline.site.ami_port)
    try:
        hotline.kill_bridge(0)
        hotline.start_bridge(env={"HOTLINE_AMI_PORT": str(link.port)})
        desk(ledger, phones, "desk-101", talk_ms=1500)
        place(ledger, phones, "0990200001", stay_ms=60000)  # before
        wait_call(hotline, "0990200001", ("ended",), timeout=30)

        link.cut(30)
        cut_at = time.monotonic()
        # During: one caller stays (the dialplan's watchdog sends them to Asterisk's own
        # queue once the heartbeat is stale), one gives up while waiting (that hang-up
        # event is lost with the link: reconciliation must find it).
        place(ledger, phones, "0990200002", stay_ms=60000)
        place(ledger, phones, "0990200003", stay_ms=4000)
        time.sleep(max(0.0, 30 - (time.monotonic() - cut_at)))
        hotline.wait_bridge_ready(0, logged_in_before=1, timeout=30)

        place(ledger, phones, "0990200004", stay_ms=60000)  # after
        row = settle(ledger, timeout=90)
        assert row["answered"] + row["callback"] == 4
        assert call_of(hotline, "0990200003")["state"] in ("abandoned", "ended")
        rec = wait_call(hotline, "0990200004", ("ended",), timeout=5)
        assert (rec["outcome"], rec["fallback_reason"]) == ("answered", "")
    finally:
        link.close()
        hotline.kill_bridge(0)  # the next test gets a bridge that talks to AMI directly
        hotline.start_bridge()


def test_a_redirect_that_lands_after_the_ami_deadline_rings_one_desk_only(hotline, phones):
    # The Redirect reaches Asterisk 7 s late, after the bridge stopped waiting for its reply
    # (5 s). Putting the caller back in the queue then would offer it to a second desk while
    # the late Redirect takes it to the first (and could pull it out of that desk's call).
    ledger = Ledger("Redirect 7 s late (AMI reply deadline 5 s)", hotline)
    link = SlowRedirectLink(hotline.site.ami_port, redirects=1, seconds=7)
    try:
        hotline.kill_bridge(0)
        hotline.start_bridge(env={"HOTLINE_AMI_PORT": str(link.port)})
        first = desk(ledger, phones, "desk-101", answer_after_ms=1000, talk_ms=4000)
        second = desk(ledger, phones, "desk-102", answer_after_ms=1000, talk_ms=4000)
        place(ledger, phones, "0990900001", stay_ms=60000)
        row = settle(ledger, timeout=60)
        assert link.held, "the Redirect was never held back"
        assert row["answered"] == 1
        rec = call_of(hotline, "0990900001")
        assert (rec["outcome"], rec["ring_attempts"]) == ("answered", "1"), rec
        # One desk rang, once, and talked to the caller to the end (SIPp's desk hangs up after talk_ms).
        assert rings(first) + rings(second) == ["0990900001"]
        assert int(rec["ended_ms"]) - int(rec["answered_ms"]) >= 3500, rec
    finally:
        link.close()
        hotline.kill_bridge(0)  # the next test gets a bridge that talks to AMI directly
        hotline.start_bridge()


def test_redis_restarted_keeps_queue_and_call_state(hotline, phones):
    ledger = Ledger("Redis restarted (AOF)", hotline)
    phone = desk(ledger, phones, "desk-101", ready=False, talk_ms=1000)
    hotline.routing().set_desk_state("desk-101", "login")
    place(ledger, phones, "0990300001", stay_ms=90000)
    wait_call(hotline, "0990300001", ("queued",), timeout=20)
    place(ledger, phones, "0990300002", stay_ms=90000)
    wait_call(hotline, "0990300002", ("queued",), timeout=20)
    before = {c: call_of(hotline, c) for c in ("0990300001", "0990300002")}
    queue_before = hotline.routing().queue("police")

    hotline.stop_redis()
    time.sleep(1)
    hotline.start_redis()

    assert {c: call_of(hotline, c) for c in before} == before
    assert hotline.routing().queue("police") == queue_before
    hotline.wait_bridge_heartbeat()
    hotline.routing().set_desk_state("desk-101", "ready")
    place(ledger, phones, "0990300003", stay_ms=90000)  # after
    row = settle(ledger, timeout=60)
    assert row["answered"] == 3
    order = rings(phone)
    assert order[:2] == ["0990300001", "0990300002"]


def test_redis_unreachable_calls_still_ring_desks_and_routing_resumes(hotline, phones):
    ledger = Ledger("Redis unreachable, then back", hotline)
    phone = desk(ledger, phones, "desk-101", talk_ms=1000)
    hotline.stop_redis()
    try:
        place(ledger, phones, "0990400001", stay_ms=60000)  # during: Asterisk's fallback queue
        assert phone.wait_for(r"RINGING from=.*0990400001", 30), phone.log_lines()
        assert phone.wait_for(r"DESK HUNG UP", 15)
    finally:
        hotline.start_redis()
    hotline.wait_bridge_heartbeat()
    # The bridge kept the dialplan's events while Redis was down and applied them after.
    rec = wait_call(hotline, "0990400001", ("ended",), timeout=20)
    assert rec["outcome"] == "fallback" and rec["fallback_reason"].startswith("agi-")
    place(ledger, phones, "0990400002", stay_ms=60000)  # after: normal routing again
    rec = wait_call(hotline, "0990400002", ("ended",), timeout=30)
    assert (rec["queue"], rec["desk"], rec["outcome"]) == ("police", "desk-101", "answered")
    settle(ledger)


def test_desk_rejects_and_desk_phone_vanishes_mid_shift(hotline, phones):
    ledger = Ledger("desk rejects while ringing; desk phone gone mid-shift", hotline)
    desk(ledger, phones, "desk-101", reject=True, answer_after_ms=300)
    place(ledger, phones, "0990500001", stay_ms=60000)
    wait_until(lambda: hotline.routing().desk("desk-101").get("misses") == "1", 20, "desk-101 rejected")
    assert call_of(hotline, "0990500001")["state"] in ("queued", "ringing")  # back in its place, offered again
    desk(ledger, phones, "desk-102", talk_ms=1000)
    rec = wait_call(hotline, "0990500001", ("ended",), timeout=30)
    assert (rec["desk"], rec["outcome"]) == ("desk-102", "answered")
    assert int(rec["ring_attempts"]) >= 2

    # desk-201's phone dies without unregistering: its ready desk is tried, misses, and
    # the caller goes on to a desk that answers.
    gone = phones.desk("desk-201")
    gone.proc.kill()
    gone.proc.wait()
    routing = hotline.routing()
    place(ledger, phones, "0990500002", "2", stay_ms=90000)
    wait_until(lambda: int(routing.desk("desk-201").get("misses") or 0) >= 1, 30, "desk-201 missed")
    assert call_of(hotline, "0990500002")["state"] in ("queued", "ringing")  # still waiting, not lost
    # The call-taker plugs the phone back in (and, if it was paused for missed calls, gets ready).
    desk(ledger, phones, "desk-201", ready=False, talk_ms=1000)
    if routing.desk("desk-201")["state"] == "paused":
        routing.set_desk_state("desk-201", "ready")
    rec = wait_call(hotline, "0990500002", ("ended",), timeout=60)
    assert (rec["desk"], rec["outcome"]) == ("desk-201", "answered")
    settle(ledger)


def test_asterisk_killed_and_restarted(hotline, phones):
    ledger = Ledger("Asterisk killed and restarted", hotline)
    desk(ledger, phones, "desk-102", talk_ms=30000)
    place(ledger, phones, "0990600001", stay_ms=60000)  # on a call when Asterisk dies
    wait_call(hotline, "0990600001", ("on_call",), timeout=30)
    place(ledger, phones, "0990600002", stay_ms=60000)  # waiting when Asterisk dies
    wait_call(hotline, "0990600002", ("queued",), timeout=20)

    logins = hotline.bridge_log(0).read_text().count("AMI logged in")  # before: Asterisk boots in < 1 s
    hotline.asterisk.kill()
    started = time.monotonic()
    hotline.asterisk.start()
    hotline.wait_bridge_ready(0, logged_in_before=logins, timeout=30)
    back_in = time.monotonic() - started

    # Calls in progress ended with Asterisk: the waiting caller is on the callback list.
    rec = wait_call(hotline, "0990600002", ("abandoned",), timeout=20)
    assert rec["call_id"] in hotline.routing().callbacks("police")
    assert wait_call(hotline, "0990600001", ("ended",), timeout=20)["outcome"] == "answered"

    desk(ledger, phones, "desk-101", talk_ms=1000)
    place(ledger, phones, "0990600003", stay_ms=60000)  # after: served again
    rec = wait_call(hotline, "0990600003", ("ended",), timeout=30)
    assert rec["outcome"] == "answered"
    assert back_in < 30
    row = settle(ledger)
    assert (row["answered"], row["callback"]) == (2, 1)
