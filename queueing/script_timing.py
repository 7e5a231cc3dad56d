"""How long each Lua script takes, as seen by the process that runs it: a histogram per script.

Every routing decision is one Lua script, run while Redis does nothing else, so a slow script
delays every caller and desk at once. Each :class:`~queueing.routing.Routing` keeps a
:class:`ScriptTimings`; a bridge sends its snapshot with each heartbeat (``bridge_heartbeat``),
and ``GET /metrics`` shows every bridge's as ``hotline_lua_script_seconds``. The time is the
round trip (the script plus the network), which is what a caller waits.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

#: Upper bounds (seconds) of the buckets; the last, +Inf, is implied by ``count``.
BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


@dataclass
class ScriptHistogram:
    counts: list[int] = field(default_factory=lambda: [0] * len(BUCKETS_S))  # per bucket, not cumulative
    total_s: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        i = bisect_left(BUCKETS_S, seconds)
        if i < len(BUCKETS_S):
            self.counts[i] += 1
        self.total_s += seconds
        self.count += 1

    def cumulative(self) -> list[int]:
        """Calls at or under each bound (Prometheus's ``le`` buckets), then all of them (+Inf)."""
        out, running = [], 0
        for n in self.counts:
            running += n
            out.append(running)
        return [*out, self.count]


class ScriptTimings:
    """Histograms by script name, counted since this process started."""

    def __init__(self) -> None:
        self.scripts: dict[str, ScriptHistogram] = {}

    def observe(self, script: str, seconds: float) -> None:
        histogram = self.scripts.get(script)
        if histogram is None:
            histogram = self.scripts[script] = ScriptHistogram()
        histogram.observe(seconds)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """JSON-ready: {script: {"le": cumulative counts incl. +Inf, "sum": seconds}}."""
        return {name: {"le": h.cumulative(), "sum": round(h.total_s, 6)} for name, h in sorted(self.scripts.items())}


def parse_snapshot(value: Any) -> dict[str, tuple[list[int], float]]:
    """A snapshot as another process sent it → {script: (cumulative counts incl. +Inf, sum)};
    anything malformed is left out (a metrics scrape never fails on one bridge's odd heartbeat)."""
    out: dict[str, tuple[list[int], float]] = {}
    if not isinstance(value, dict):
        return out
    for name, entry in value.items():
        if not isinstance(entry, dict):
            continue
        counts, total = entry.get("le"), entry.get("sum")
        if (isinstance(counts, list) and len(counts) == len(BUCKETS_S) + 1
                and all(isinstance(n, int) and n >= 0 for n in counts)
                and counts == sorted(counts) and isinstance(total, int | float) and total >= 0):
            out[str(name)] = (counts, float(total))
    return out
