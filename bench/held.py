"""How many callers a path holds with music at once, no desk ready, before something
fails, and what each held caller costs Asterisk and the bridge.

Callers arrive in batches at a moderate rate and stay; after each batch the plateau is
checked (every caller still on the line, answered, and waiting in its queue: Redis's
queues for hotline, app_queue's for the native path) and CPU and memory are measured
over a quiet window. The cost per held caller is the least-squares slope over the
plateaus, so the fixed cost of an idle system drops out."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.call_log import CitizenCall, read_citizens
from bench.proc_usage import UsageWindow
from bench.rig import CallPath, Rig
from bench.sipp_load import SippProcess, start_citizens
from bench.stats import slope

HOLD_MS = 1_800_000  # longer than any held test: the teardown hangs everyone up


@dataclass(frozen=True)
class HeldPlan:
    levels: tuple[int, ...]
    arrival_rate: float
    settle_s: float = 3.0
    window_s: float = 5.0


@dataclass
class HeldLevel:
    target: int
    on_line: int
    waiting: int
    failures: dict[str, int]
    usage: dict[str, tuple[float, int]]  # process → (CPU % of one core, RSS bytes)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "on_line": self.on_line, "waiting": self.waiting, "ok": self.ok,
                "failures": self.failures,
                "usage": {k: {"cpu_percent": round(c, 1), "rss_mib": round(r / 2**20, 1)} for k, (c, r) in self.usage.items()}}


@dataclass
class HeldResult:
    path: str
    levels: list[HeldLevel] = field(default_factory=list)

    @property
    def max_held(self) -> int:
        ok = [lv.target for lv in self.levels if lv.ok]
        return max(ok) if ok else 0

    @property
    def first_failure(self) -> int | None:
        bad = [lv.target for lv in self.levels if not lv.ok]
        return bad[0] if bad else None

    def per_caller(self, process: str) -> dict[str, float | None]:
        """CPU (% of one core) and memory (KiB) per held caller, over the passing plateaus."""
        ok = [lv for lv in self.levels if lv.ok and process in lv.usage]
        xs = [lv.target for lv in ok]
        cpu = slope(xs, [lv.usage[process][0] for lv in ok])
        rss = slope(xs, [lv.usage[process][1] / 1024 for lv in ok])
        return {"cpu_percent": cpu, "rss_kib": rss}

    def to_json(self) -> dict[str, Any]:
        processes = sorted({p for lv in self.levels for p in lv.usage})
        return {"path": self.path, "max_held_no_failure": self.max_held, "first_failing_level": self.first_failure,
                "per_held_caller": {p: self.per_caller(p) for p in processes},
                "levels": [lv.to_json() for lv in self.levels]}


def _measure(rig: Rig, seconds: float) -> dict[str, tuple[float, int]]:
    windows = {"asterisk": UsageWindow(rig.asterisk_pid).start(), "bridge": UsageWindow(rig.bridge_pid).start(),
               "redis": UsageWindow(rig.redis_pid).start()}
    time.sleep(seconds)
    return {name: w.read() for name, w in windows.items()}


def hold_callers(rig: Rig, path: CallPath, plan: HeldPlan,
                 progress: Callable[[str], object] = print) -> HeldResult:
    result = HeldResult(path.key)
    if path.key == "hotline":
        rig.set_desks("offline")
    else:
        rig.pause_native_members(True)
    batches: list[SippProcess] = []
    citizens: dict[str, CitizenCall] = {}
    expected: list[str] = []
    try:
        result.levels.append(HeldLevel(0, 0, 0, {}, _measure(rig, plan.window_s)))
        for target in plan.levels:
            count = target - len(expected)
            prefix = rig.caller_prefix()
            batch = start_citizens(rig.running_lab.sip_target, path.number, rig.workdir / "held", f"held-{path.key}-{prefix}",
                                   prefix, plan.arrival_rate, count, count + 10, press="field", line_up_ms=HOLD_MS)
            batches.append(batch)
            expected += [f"{prefix}{n}" for n in range(1, count + 1)]
            deadline = time.monotonic() + count / plan.arrival_rate + 15
            while time.monotonic() < deadline:
                read_citizens(batch.new_log_lines(), citizens)
                if sum(1 for c in expected if citizens.get(c, CitizenCall(c)).key_pressed) >= len(expected):
                    break
                time.sleep(0.5)
            # Every caller who pressed its key should be in a queue within settle_s; a
            # slower IVR gets up to settle_s more before it counts as a failure.
            time.sleep(plan.settle_s)
            level = _check(rig, path, target, batches, citizens, expected)
            deadline = time.monotonic() + plan.settle_s
            while level.failures and time.monotonic() < deadline:
                time.sleep(0.5)
                for b in batches:
                    read_citizens(b.new_log_lines(), citizens)
                level = _check(rig, path, target, batches, citizens, expected)
            level.usage = _measure(rig, plan.window_s)
            for b in batches:  # a caller dropped during the window counts too
                read_citizens(b.new_log_lines(), citizens)
            late = _check(rig, path, target, batches, citizens, expected)
            level.failures = {**late.failures, **level.failures}
            result.levels.append(level)
            a_cpu, a_rss = level.usage["asterisk"]
            b_cpu, b_rss = level.usage["bridge"]
            progress(f"    {path.key:8} {target:5d} held: {'ok' if level.ok else 'FAIL'} "
                     f"(on line {level.on_line}, waiting {level.waiting}) "
                     f"Asterisk {a_cpu:5.1f}% {a_rss / 2**20:6.1f} MiB, bridge {b_cpu:5.1f}% {b_rss / 2**20:5.1f} MiB"
                     + (f"  [{'; '.join(f'{k}: {v}' for k, v in level.failures.items())}]" if level.failures else ""))
            if not level.ok:
                break
    finally:
        rig.asterisk.cli("channel request hangup all", check=False)
        for b in batches:
            if not b.wait(20):
                b.stop()
        rig.settle(desks_ready=False)
        if path.key == "hotline":
            rig.set_desks("ready")
        else:
            rig.pause_native_members(False)
    return result


def _check(rig: Rig, path: CallPath, target: int, batches: list[SippProcess],
           citizens: dict[str, CitizenCall], expected: list[str]) -> HeldLevel:
    failures: Counter[str] = Counter()
    on_line = 0
    for caller in expected:
        c = citizens.get(caller)
        if c is None or c.answered is None:
            failures["not answered"] += 1
        elif c.line_hung_up is not None:
            failures["hung up by the line"] += 1
        else:
            on_line += 1
    sipp_failed = sum(b.failed_calls() for b in batches)
    if sipp_failed:
        failures["SIPp failed calls"] = sipp_failed
    waiting = rig.hotline_waiting() if path.key == "hotline" else rig.native_waiting()
    if waiting < on_line:
        failures["on the line but not in a queue"] = on_line - waiting
    return HeldLevel(target, on_line, waiting, dict(failures), {})
