"""CPU time and resident memory of a process, from /proc (all its threads together)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """user + system CPU time so far."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name (field 2) may hold spaces: split after its closing parenthesis.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * _PAGE


@dataclass
class UsageWindow:
    """CPU used between two readings, as % of one core, and the RSS at the end."""

    pid: int
    _cpu0: float = 0.0
    _t0: float = 0.0

    def start(self) -> UsageWindow:
        self._cpu0, self._t0 = cpu_seconds(self.pid), time.monotonic()
        return self

    def read(self) -> tuple[float, int]:
        cpu, t = cpu_seconds(self.pid), time.monotonic()
        return 100.0 * (cpu - self._cpu0) / max(t - self._t0, 1e-6), rss_bytes(self.pid)
