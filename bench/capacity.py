"""The highest call rate a path takes with no failed call: a step search in the manner of
RFC 7502 (a trial at a rate either loses no call or fails; the rate doubles until a trial
fails, then the pass/fail interval is halved until it is narrow enough)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.rig import CallPath
from bench.trial import TrialResult, Trials


@dataclass(frozen=True)
class SearchPlan:
    start_rate: float
    max_rate: float  # the desks' own limit, or what SIPp can offer
    trial_s: float
    max_trials: int
    resolution: float = 0.05  # stop when (fail - pass) ≤ this share of the pass rate
    min_step: float = 2.0  # … or ≤ this many calls/s


@dataclass
class SearchResult:
    path: str
    best_rate: float  # highest rate that passed (0 when none did)
    first_fail: float | None  # lowest rate that failed (None: the ceiling passed)
    capped: bool  # the ceiling itself passed: the path is faster than the bench can tell
    trials: list[TrialResult] = field(default_factory=list)

    def best_trial(self) -> TrialResult | None:
        passed = [t for t in self.trials if t.passed and t.rate == self.best_rate]
        return passed[-1] if passed else None

    def to_json(self) -> dict:
        return {"path": self.path, "max_rate_no_failure": self.best_rate, "first_failing_rate": self.first_fail,
                "capped_at_ceiling": self.capped, "trials": [t.to_json() for t in self.trials]}


def find_capacity(trials: Trials, path: CallPath, plan: SearchPlan) -> SearchResult:
    result = SearchResult(path.key, 0.0, None, False)

    def attempt(rate: float) -> bool:
        t = trials.run(path, rate, plan.trial_s)
        result.trials.append(t)
        return t.passed

    rate = plan.start_rate
    while len(result.trials) < plan.max_trials:
        if attempt(rate):
            result.best_rate = rate
            if rate >= plan.max_rate:
                result.capped = True
                return result
            rate = min(rate * 2, plan.max_rate)
        else:
            result.first_fail = rate
            break
    while result.first_fail is not None and len(result.trials) < plan.max_trials:
        lo, hi = result.best_rate, result.first_fail
        if hi - lo <= max(plan.min_step, plan.resolution * lo):
            break
        mid = round((lo + hi) / 2, 1)
        if attempt(mid):
            result.best_rate = mid
        else:
            result.first_fail = mid
    return result
