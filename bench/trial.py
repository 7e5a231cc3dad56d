"""One trial: citizens at a fixed rate for a fixed time through one call path, then a
verdict on every call and the routing delays seen."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.call_log import (
    CitizenCall,
    DeskCall,
    bare_call_verdict,
    desk_call_verdict,
    read_citizens,
    read_desks,
    routing_delays_ms,
)
from bench.rig import CallPath, Rig
from bench.sipp_load import start_citizens
from bench.stats import summary_ms


@dataclass(frozen=True)
class TrialPlan:
    """How every trial's calls behave; the same for every path."""

    first_key_after_ms: int = 1500  # the caller presses during the first prompt
    # A desk must answer within this of the key; for (c), Asterisk must answer within this
    # of the INVITE and hang up at most this late after its Wait.
    answer_within_s: float = 3.0

    def line_up_ms(self, rig: Rig, path: CallPath) -> int:
        """How long a citizen waits for the line to hang up before giving up."""
        if path.to_desk:
            return int((self.answer_within_s + 0.2) * 1000 + rig.talk_ms + 1500)
        return int((rig.bare_hold_s + self.answer_within_s) * 1000 + 1000)

    def call_length_s(self, rig: Rig, path: CallPath) -> float:
        if path.to_desk:
            return self.first_key_after_ms / 1000 + 0.5 + rig.talk_ms / 1000
        return rig.bare_hold_s


@dataclass
class TrialResult:
    path: str
    rate: float
    calls: int
    succeeded: int
    sipp_failed: int
    reasons: dict[str, int]
    duration_s: float
    settle: str  # what was left over after the trial ("" when clean)
    delays_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def failed(self) -> int:
        return self.calls - self.succeeded

    @property
    def passed(self) -> bool:
        return self.failed == 0 and self.sipp_failed == 0

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "rate": self.rate, "calls": self.calls, "succeeded": self.succeeded,
                "failed": self.failed, "sipp_failed": self.sipp_failed, "passed": self.passed,
                "reasons": self.reasons, "duration_s": round(self.duration_s, 1), "settle": self.settle,
                "routing_delay_ms": summary_ms(self.delays_ms) if self.delays_ms else None}


class Trials:
    """Runs trials on one rig; keeps every desk log line read so far."""

    def __init__(self, rig: Rig, plan: TrialPlan, progress: Callable[[str], object] = print) -> None:
        self.rig = rig
        self.plan = plan
        self.progress = progress
        self.desk_calls: dict[str, DeskCall] = {}
        self.results: list[TrialResult] = []

    def run(self, path: CallPath, rate: float, duration_s: float, tag: str = "") -> TrialResult:
        rig, plan = self.rig, self.plan
        calls = max(1, math.ceil(rate * duration_s))
        prefix = rig.caller_prefix()
        line_up_ms = plan.line_up_ms(rig, path)
        longest_s = plan.call_length_s(rig, path) + line_up_ms / 1000
        concurrent = int(rate * longest_s) + 50
        started = time.monotonic()
        sipp = start_citizens(rig.running_lab.sip_target, path.number, rig.workdir / "citizens", f"{path.key}-{prefix}",
                              prefix, rate, calls, concurrent, press="field" if path.to_desk else "",
                              first_key_after_ms=plan.first_key_after_ms, line_up_ms=line_up_ms)
        try:
            if not sipp.wait(duration_s + longest_s + 30):
                sipp.stop()
        except BaseException:  # interrupted: leave no SIPp behind
            sipp.stop()
            raise
        elapsed = time.monotonic() - started
        time.sleep(0.5)  # the desk bank's last log lines
        citizens = read_citizens(sipp.new_log_lines())
        read_desks(rig.desk_bank.sipp.new_log_lines(), self.desk_calls)
        reasons: Counter[str] = Counter()
        mine: list[CitizenCall] = []
        for n in range(1, calls + 1):
            caller = f"{prefix}{n}"
            citizen = citizens.get(caller, CitizenCall(caller))
            mine.append(citizen)
            if path.to_desk:
                verdict = desk_call_verdict(citizen, self.desk_calls.get(caller), plan.answer_within_s)
            else:
                verdict = bare_call_verdict(citizen, rig.bare_hold_s, plan.answer_within_s)
            if not verdict.ok:
                reasons[verdict.reason] += 1
        settle = rig.settle(desks_ready=path.to_desk)
        result = TrialResult(
            path=path.key, rate=rate, calls=calls, succeeded=calls - sum(reasons.values()),
            sipp_failed=sipp.failed_calls(), reasons=dict(reasons), duration_s=elapsed, settle=settle,
            delays_ms=routing_delays_ms(mine, self.desk_calls) if path.to_desk else [],
        )
        self.results.append(result)
        delay = summary_ms(result.delays_ms)
        self.progress(
            f"    {path.key:8} {rate:6.1f} calls/s × {duration_s:g} s: "
            f"{'pass' if result.passed else 'FAIL'} ({result.failed} failed, SIPp {result.sipp_failed})"
            + (f", key→desk p50 {delay['p50']:.0f} ms p99 {delay['p99']:.0f} ms" if delay["n"] else "")
            + (f"  [{'; '.join(f'{k}: {v}' for k, v in reasons.items())}]" if reasons else "")
            + (f"  left over: {settle}" if settle else "") + (f"  {tag}" if tag else ""))
        return result
