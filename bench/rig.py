"""The bench's running parts: one lab named "bench" (real Asterisk, Redis, the bridge)
with the bench-only numbers for (b) and (c), and the bank of desk phones."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bench.city import BenchCity
from bench.dialplan import BARE_NUMBER, NATIVE_GENERAL_QUEUE, NATIVE_NUMBER, bench_config, native_queue
from bench.sipp_load import DeskBank
from hotline.lab.asterisk_sandbox import AsteriskInstance
from hotline.lab.lab import Lab
from queueing.routing import Routing
from telephony import ami_blocking
from telephony.ami_blocking import AmiSession
from telephony.asterisk_config import AsteriskSite

# Outside the kernel's ephemeral range (where SIPp's free ports come from) and below the
# 100-port slices other labs on this machine take from 20000 up: room for 5000 channels.
RTP_PORTS = (10000, 19999)

T = TypeVar("T")


def _running(part: T | None, what: str) -> T:
    """A part the rig only has once started; a clear error before ``Rig.start``."""
    if part is None:
        raise RuntimeError(f"the bench rig has no {what}: start it first (Rig.start)")
    return part


@dataclass(frozen=True)
class CallPath:
    key: str  # "hotline", "native", "bare"
    title: str
    number: str
    to_desk: bool  # the citizen presses a key and a desk answers


class Rig:
    def __init__(self, workdir: Path, city: BenchCity, talk_ms: int, bare_hold_s: float,
                 progress: Callable[[str], object] = print, name: str = "bench",
                 desk_answer_ms: tuple[int, int] = (0, 200)) -> None:
        self.workdir = workdir
        self.city = city
        self.name = name
        self.desk_answer_ms = desk_answer_ms  # a desk answers after a uniform delay in this range
        self.talk_ms = talk_ms
        self.bare_hold_s = bare_hold_s
        self.progress = progress
        self.lab: Lab | None = None
        self.desks: DeskBank | None = None
        self._serial = 0

    def start(self) -> Rig:
        city_file = self.city.write(self.workdir / "bench-city.toml")
        self.lab = Lab(city_file=city_file, workdir=self.workdir / "lab", name=self.name, progress=self.progress,
                       extra_config=bench_config(self.city, self.bare_hold_s), rtp_ports=RTP_PORTS)
        self.lab.start()
        self.progress(f"  registering {len(self.lab.city.desks)} desks (one SIPp desk bank)")
        self.desks = DeskBank(self.lab.sip_target, self.site.desk_passwords, self.workdir / "desks",
                              answer_min_ms=self.desk_answer_ms[0], answer_max_ms=self.desk_answer_ms[1],
                              talk_ms=self.talk_ms).start()
        self.set_desks("ready")
        return self

    def restart_bridge(self, city_file: Path) -> None:
        """The bridge again, reading ``city_file`` (same desks, another [ivr]): what a city
        does to change its menu's mode, on the same Asterisk and Redis."""
        lab = self.running_lab
        proc = lab.bridge_proc
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                lab.kill_bridge()
        lab.start_bridge(env={"HOTLINE_CITY_FILE": str(city_file)})

    def stop(self) -> None:
        if self.desks and self.desks.sipp.proc:
            self.desks.stop()
        if self.lab:
            self.lab.stop()

    # --- the started parts (each raises a clear error before start()) -------------------

    @property
    def running_lab(self) -> Lab:
        return _running(self.lab, "lab")

    @property
    def asterisk(self) -> AsteriskInstance:
        return _running(self.running_lab.asterisk, "Asterisk")

    @property
    def site(self) -> AsteriskSite:
        return _running(self.running_lab.site, "Asterisk site")

    @property
    def desk_bank(self) -> DeskBank:
        return _running(self.desks, "desk bank")

    @property
    def redis_url(self) -> str:
        return _running(self.running_lab.redis_url, "Redis URL")

    def routing(self) -> Routing:
        return self.running_lab.routing()

    @property
    def paths(self) -> dict[str, CallPath]:
        hotline_number = self.running_lab.city.hotline.number
        return {
            "hotline": CallPath("hotline", "(a) hotline: FastAGI IVR → Redis → AMI", hotline_number, True),
            "native": CallPath("native", "(b) native: dialplan IVR → app_queue", NATIVE_NUMBER, True),
            "bare": CallPath("bare", "(c) bare: Answer → Wait → Hangup", BARE_NUMBER, False),
        }

    def caller_prefix(self) -> str:
        """Caller numbers of one SIPp run: "9" + 4 digits, then SIPp's call number."""
        self._serial += 1
        return f"9{self._serial:04d}"

    # --- state of the parts -------------------------------------------------------------

    @property
    def asterisk_pid(self) -> int:
        return _running(self.asterisk.proc, "Asterisk process").pid  # chroot execs asterisk: the same process

    @property
    def bridge_pid(self) -> int:
        return _running(self.running_lab.bridge_proc, "bridge process").pid

    @property
    def redis_pid(self) -> int:
        return _running(self.running_lab.redis_server, "redis-server").process.pid

    def channels(self) -> int:
        out = self.asterisk.cli("core show channels count", check=False).stdout
        m = re.search(r"(\d+) active channel", out)
        return int(m.group(1)) if m else -1

    def set_desks(self, state: str) -> None:
        routing = self.routing()
        pipe = routing.redis.pipeline(transaction=False)
        script = routing.scripts["desk_set_state"]
        for desk, _ in self.city.all_desks():
            script(keys=routing.keys.fixed(), args=[routing.keys.prefix, routing.clock(), desk, state, ""], client=pipe)
        pipe.execute(raise_on_error=False)  # a desk still ringing refuses; settle() waits for it

    def ready_desks(self) -> int:
        routing = self.routing()
        return sum(routing.redis.zcard(routing.keys.desks_ready(a)) for a in self.city.agencies)

    def active_calls(self) -> int:
        routing = self.routing()
        return int(routing.redis.scard(routing.keys.calls_active()))

    def settle(self, timeout: float = 30, desks_ready: bool = True) -> str:
        """Wait until no channel is left and Redis has no live call (and, with
        ``desks_ready``, every desk is ready again). Returns "" or what did not settle;
        whatever is left after ``timeout`` is hung up, so the next step starts clean."""
        deadline = time.monotonic() + timeout
        while True:
            left = self._unsettled(desks_ready)
            if not left:
                return ""
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.asterisk.cli("channel request hangup all", check=False)
        time.sleep(3)
        return left

    def _unsettled(self, desks_ready: bool) -> str:
        problems = []
        channels = self.channels()
        if channels:
            problems.append(f"{channels} channels up")
        active = self.active_calls()
        if active:
            problems.append(f"{active} calls live in Redis")
        if desks_ready:
            ready = self.ready_desks()
            desks = len(self.running_lab.city.desks)
            if ready != desks:
                problems.append(f"{ready}/{desks} desks ready")
        return ", ".join(problems)

    # --- the native queues (b) ---------------------------------------------------------

    def ami(self) -> AmiSession:
        site = self.site
        return ami_blocking.connect(site.ami_bind, site.ami_port, site.ami_user, site.ami_secret,
                                    events="off", timeout=10, id_prefix="bench")

    def pause_native_members(self, paused: bool) -> None:
        """Every desk paused (or back) in every app_queue queue: no desk ready, as for (a)."""
        ami = self.ami()
        try:
            for desk, _ in self.city.all_desks():
                ami.action("QueuePause", Interface=f"PJSIP/{desk}", Paused="true" if paused else "false",
                           Reason="bench")
        finally:
            ami.close()

    def native_waiting(self) -> int:
        """Callers waiting in the bench's app_queue queues."""
        names = {native_queue(a) for a in self.city.agencies} | {NATIVE_GENERAL_QUEUE}
        ami = self.ami()
        try:
            rows = ami.action("QueueSummary")
        finally:
            ami.close()
        return sum(int(r.get("Callers", 0)) for r in rows if r.get("Event") == "QueueSummary" and r.get("Queue") in names)

    def hotline_waiting(self) -> int:
        """Callers waiting in hotline's Redis queues."""
        routing = self.routing()
        return sum(routing.redis.zcard(routing.keys.queue(q)) for q in [*self.city.agencies, "general"])
