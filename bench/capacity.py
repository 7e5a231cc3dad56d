"""The highest call rate a path takes with no failed call: a step search in the manner of
RFC 7502 (a trial at a rate either loses no call or fails; the rate doubles until a trial
fails, then the pass/fail interval is halved until it is narrow enough).

The searches of the three paths advance in turns, one trial each, so that whatever else
loads the machine meanwhile weighs on all three alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
class CapacitySearch:
    path: CallPath
    plan: SearchPlan
    best_rate: float = 0.0  # highest rate that passed (0 when none did)
    first_fail: float | None = None  # lowest rate that failed (None: none yet)
    capped: bool = False  # the ceiling itself passed: faster than the bench can tell
    trials: list[TrialResult] = field(default_factory=list)

    def next_rate(self) -> float | None:
        """The rate of the next trial, or None when the search is over."""
        plan = self.plan
        if len(self.trials) >= plan.max_trials or self.capped:
            return None
        if not self.trials:
            return plan.start_rate
        if self.first_fail is None:
            return min(self.best_rate * 2, plan.max_rate)
        lo, hi = self.best_rate, self.first_fail
        if hi - lo <= max(plan.min_step, plan.resolution * lo):
            return None
        return round((lo + hi) / 2, 1)

    def record(self, trial: TrialResult) -> None:
        self.trials.append(trial)
        if trial.passed:
            self.best_rate = max(self.best_rate, trial.rate)
            self.capped = trial.rate >= self.plan.max_rate
        else:
            self.first_fail = trial.rate if self.first_fail is None else min(self.first_fail, trial.rate)

    def best_trial(self) -> TrialResult | None:
        passed = [t for t in self.trials if t.passed and t.rate == self.best_rate]
        return passed[-1] if passed else None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path.key, "max_rate_no_failure": self.best_rate, "first_failing_rate": self.first_fail,
                "capped_at_ceiling": self.capped, "trials": [t.to_json() for t in self.trials]}


def find_capacities(trials: Trials, searches: list[CapacitySearch]) -> None:
    """Run the searches in turns until every one is over."""
    while True:
        pending = [(s, r) for s in searches if (r := s.next_rate()) is not None]
        if not pending:
            return
        for search, rate in pending:
            search.record(trials.run(search.path, rate, search.plan.trial_s))
