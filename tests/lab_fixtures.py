"""Lab fixtures (a pytest plugin, loaded by tests/conftest.py) for the e2e and faults
tests: one real lab (Asterisk 22 in its chroot, redis-server, the bridge)
for the session, and per test a clean Redis, desks offline, no channels left over, and
SIPp phones that are stopped afterwards."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.lab.lab import Lab
from hotline.lab.sipp import SippRun, place_call, start_desk_phone, wait_registered

CITY = Path(__file__).parent / "e2e" / "city.toml"


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    # Always a redis-server of the lab's own (not REDIS_URL): the tests flush it.
    # A name of this process's own: two test runs on one machine never share an instance.
    # Dialplan steps in the lab's Asterisk log (log_verbosity 3): failures explain themselves.
    the_lab = Lab(city_file=CITY, workdir=tmp_path_factory.mktemp("lab"), name=f"test-{os.getpid()}",
                  log_verbosity=3)
    the_lab.start()
    try:
        yield the_lab
    finally:
        the_lab.stop()


@pytest.fixture
def hotline(lab: Lab) -> Iterator[Lab]:
    """The lab, reset: no channels, empty Redis, every desk registered and offline, a
    bridge running and heartbeating."""
    lab.asterisk.cli("channel request hangup all", check=False)
    wait_until(lambda: "0 active channels" in lab.asterisk.cli("core show channels count").stdout, 10,
          "channels from an earlier test still up")
    routing = lab.routing()
    routing.redis.flushdb()
    for desk in lab.city.desks:
        routing.register_desk(desk.id, desk.agency, cross_trained=desk.cross_trained)
    lab.kill_bridge(1)  # a second bridge runs only in the tests that start it
    if lab.bridge_proc is None or lab.bridge_proc.poll() is not None:
        lab.start_bridge()
    else:
        try:
            lab.wait_bridge_heartbeat(timeout=5)
        except RuntimeError:  # left unhealthy by the test before: start afresh
            lab.kill_bridge(0)
            lab.start_bridge()
    yield lab


class Phones:
    """Desk phones and citizens of one test; all stopped at its end."""

    def __init__(self, lab: Lab, workdir: Path):
        self.lab = lab
        self.workdir = workdir
        self.runs: list[SippRun] = []

    def desk(self, desk_id: str, ready: bool = True, **kw) -> SippRun:
        phone = start_desk_phone(self.lab.sip_target, desk_id, self.lab.site.desk_passwords[desk_id],
                                 self.workdir, **kw)
        self.runs.append(phone)
        wait_registered(phone)
        if ready:
            self.lab.routing().set_desk_state(desk_id, "ready")
        return phone

    def citizen(self, caller: str, digits: str = "", **kw) -> SippRun:
        run = place_call(self.lab.sip_target, self.lab.city.hotline.number, caller, self.workdir,
                         digits=digits, name=f"citizen-{caller}", **kw)
        self.runs.append(run)
        return run

    def stop(self) -> None:
        for run in self.runs:
            run.stop()


@pytest.fixture
def phones(hotline: Lab, tmp_path: Path) -> Iterator[Phones]:
    p = Phones(hotline, tmp_path)
    try:
        yield p
    finally:
        p.stop()


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s: {what}")


def call_of(lab: Lab, caller: str) -> dict:
    """The newest call record from ``caller`` (each test uses distinct numbers)."""
    routing = lab.routing()
    for call_id in reversed(routing.redis.zrange(routing.keys.calls(), 0, -1)):
        rec = routing.call(call_id)
        if rec.get("caller") == caller:
            return rec
    return {}


def wait_call(lab: Lab, caller: str, states: tuple[str, ...], timeout: float = 30) -> dict:
    def check():
        rec = call_of(lab, caller)
        return rec if rec.get("state") in states else None

    try:
        return wait_until(check, timeout, f"call from {caller} to reach {states}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; record now: {call_of(lab, caller)}") from None
