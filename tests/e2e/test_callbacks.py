"""Automatic call-back on the real lab (``[callbacks] auto_dial = true``): a citizen who hung
up while queued is called back by the rq worker, the desk's phone first, then the citizen
through the carrier (a SIPp UAS on the citizens AOR's contact, the lab's ``carrier_port``).

Only the worker acts on auto_dial: these tests run the session lab's worker on a copy of the
city file with auto-dial on, and give the lab's usual worker back afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from rq import Queue

from hotline.lab.sipp import SippRun, start_carrier
from queueing.callbacks import Callbacks
from queueing.jobs import QUEUE_NAME
from queueing.redis_connect import redis_client
from tests.lab_fixtures import CITY, wait_call, wait_until

pytestmark = pytest.mark.e2e

CALLBACKS_TABLE = """
[callbacks]
auto_dial = true
desk_retry_s = 2     # no desk free: look again soon (the test makes one ready)
retry_after_s = 30
max_attempts = 3
desk_ring_s = 10
citizen_ring_s = 5
"""


@pytest.fixture(scope="module")
def auto_dial_worker(lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """The session lab's rq worker reading a city file that has auto-dial on, for this module's
    tests: one restart for all of them (it carries on through each test's flushed Redis, as
    the usual worker does)."""
    city = tmp_path_factory.mktemp("auto-dial") / "city-auto-dial.toml"
    city.write_text(CITY.read_text() + CALLBACKS_TABLE)
    lab.stop_worker()
    lab.start_worker(env={"HOTLINE_CITY_FILE": str(city)})
    try:
        yield lab
    finally:
        lab.stop_worker()
        lab.start_worker()


@pytest.fixture
def auto_dial(auto_dial_worker, hotline):
    """The lab, reset, with its rq worker on auto-dial."""
    return hotline


def _callbacks(lab) -> Callbacks:
    return Callbacks(redis_client(lab.redis_url, decode_responses=True))


def _carrier(lab, phones, **kw) -> SippRun:
    run = start_carrier(lab.carrier_port, phones.workdir, **kw)
    phones.runs.append(run)
    time.sleep(0.5)  # listening before Asterisk may call
    assert run.running(), (phones.workdir / "carrier.out").read_text(errors="replace")
    return run


def _abandoned_task(lab, phones, caller: str):
    """A police caller who hangs up while queued (no desk ready): the task is made, and its
    dial job keeps coming back (rq's scheduler) while no desk is free."""
    phones.citizen(caller, "1", stay_ms=3000)
    rec = wait_call(lab, caller, ("abandoned",), timeout=30)
    callbacks = _callbacks(lab)
    task = wait_until(lambda: callbacks.task(rec["call_id"]), 15, f"callback task for {caller}")
    assert task.number == caller
    queue = Queue(QUEUE_NAME, connection=redis_client(lab.redis_url))
    wait_until(lambda: queue.scheduled_job_registry.get_job_ids(), 10,
               "dial_callback scheduled again while no desk is ready")
    time.sleep(3)  # a retry or two with still no desk: the task stays open, nothing dialled
    task = callbacks.task(rec["call_id"])
    assert task.status == "pending" and task.attempts == 0, task.record
    return rec["call_id"]


def _seen(run: SippRun, pattern: str, timeout: float) -> float:
    assert run.wait_for(pattern, timeout), f"{run.name}: no {pattern!r}: {run.log_lines()}"
    return time.monotonic()


def test_auto_dial_rings_the_desk_then_the_citizen_who_is_reached(auto_dial, phones):
    lab = auto_dial
    carrier = _carrier(lab, phones, answer=True, answer_after_ms=1000, hold_ms=2000)
    call_id = _abandoned_task(lab, phones, "0981000001")
    assert not carrier.log_lines() or "INVITE number=" not in "\n".join(carrier.log_lines())

    # A police call-taker gets ready: the worker books the desk and calls back.
    desk = phones.desk("desk-101", answer_after_ms=1500, talk_ms=30000)
    desk_rang = _seen(desk, r'RINGING from=\s*"CALLBACK" <sip:0981000001@', 20)
    assert "INVITE number=" not in "\n".join(carrier.log_lines()), "citizen dialled before the desk answered"
    _seen(desk, r"ANSWERED", 5)
    citizen_rang = _seen(carrier, r"INVITE number=0981000001 from=.*112", 10)
    assert desk_rang < citizen_rang
    _seen(carrier, r"ANSWERED number=0981000001", 5)
    _seen(carrier, r"CITIZEN HUNG UP number=0981000001", 10)
    _seen(desk, r"CALLER HUNG UP", 5)  # the citizen's hang-up ends the desk's leg

    callbacks = _callbacks(lab)
    task = wait_until(lambda: (t := callbacks.task(call_id)) and t.status == "reached" and t, 15,
                      f"callback {call_id} reached; now {callbacks.task(call_id)}")
    assert (task.attempts, task.last_outcome, task.desk) == (1, "reached", "desk-101"), task.record
    assert task.record.get("closed_ms")

    # The call-taker was talking to the citizen: the desk stays paused until set Ready.
    routing = lab.routing()
    time.sleep(2)
    d = routing.desk("desk-101")
    assert (d["state"], d["reason"]) == ("paused", f"callback {call_id}"), d
    routing.set_desk_state("desk-101", "ready")
    assert routing.desk("desk-101")["state"] == "ready"


def test_auto_dial_citizen_does_not_answer_retry_is_scheduled(auto_dial, phones):
    lab = auto_dial
    carrier = _carrier(lab, phones, answer=False)
    call_id = _abandoned_task(lab, phones, "0981000002")

    desk = phones.desk("desk-102", answer_after_ms=500, talk_ms=30000)
    _seen(desk, r'RINGING from=\s*"CALLBACK" <sip:0981000002@', 20)
    _seen(carrier, r"INVITE number=0981000002", 10)
    _seen(carrier, r"CANCELLED number=0981000002", 15)  # rang citizen_ring_s (5 s), then given up

    callbacks = _callbacks(lab)
    task = wait_until(lambda: (t := callbacks.task(call_id)) and t.status == "retry_at" and t, 15,
                      f"callback {call_id} retry_at; now {callbacks.task(call_id)}")
    assert (task.attempts, task.last_outcome) == (1, "no_answer"), task.record
    retry_in_s = (task.next_attempt_ms - int(time.time() * 1000)) / 1000
    assert 15 < retry_in_s <= 30, task.record
    # Not reached: the desk is free for callers again at once.
    wait_until(lambda: lab.routing().desk("desk-102")["state"] == "ready", 10,
               f"desk-102 ready again; now {lab.routing().desk('desk-102')}")
    # The next attempt waits in rq's scheduler.
    queue = Queue(QUEUE_NAME, connection=redis_client(lab.redis_url))
    assert queue.scheduled_job_registry.get_job_ids()
