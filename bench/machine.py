"""What ran the benchmark, and how busy the rest of the machine was meanwhile: on a shared
machine the absolute figures move with other people's work, the ratios much less."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK")


def _first(pattern: str, text: str, default: str = "?") -> str:
    m = re.search(pattern, text, re.M)
    return m.group(1).strip() if m else default


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def describe(repo: Path, asterisk_root: Path | None) -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    meminfo = Path("/proc/meminfo").read_text()
    os_release = Path("/etc/os-release").read_text() if Path("/etc/os-release").exists() else ""
    dirty = _run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"]).splitlines()
    return {
        "cpu": _first(r"^model name\s*:\s*(.+)$", cpuinfo),
        "cores": os.cpu_count(),
        "memory_gib": round(int(_first(r"^MemTotal:\s*(\d+)", meminfo, "0")) / 2**20, 1),
        "os": _first(r'^PRETTY_NAME="?([^"\n]+)', os_release),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "asterisk": _run(["chroot", str(asterisk_root), "asterisk", "-V"]).strip() if asterisk_root else "?",
        "redis": _first(r"v=(\S+)", _run(["redis-server", "--version"])),
        "sipp": _first(r"SIPp (v\S+)", _run(["sipp", "-v"])),
        "git_commit": _run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"]).strip(),
        "git_modified_files": len(dirty),
    }


def _busy_ticks() -> int:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle


def _tree_ticks(root_pid: int) -> int:
    """CPU of a process and all its descendants, living or reaped (cutime/cstime)."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry))
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        f = stats.get(pid)
        if f:
            total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
        todo += children.get(pid, [])
    return total


@dataclass
class NoiseMeter:
    """CPU used on the whole machine vs by this benchmark's process tree, over a phase."""

    _busy0: int = 0
    _ours0: int = 0
    _t0: float = 0.0

    def start(self) -> NoiseMeter:
        self._busy0, self._ours0, self._t0 = _busy_ticks(), _tree_ticks(os.getpid()), time.monotonic()
        return self

    def read(self) -> dict[str, Any]:
        wall = max(time.monotonic() - self._t0, 1e-6)
        busy = (_busy_ticks() - self._busy0) / _TICKS
        ours = (_tree_ticks(os.getpid()) - self._ours0) / _TICKS
        return {"machine_cpu_percent": round(100 * busy / wall, 1),
                "bench_cpu_percent": round(100 * ours / wall, 1),
                "others_cpu_percent": round(max(0.0, 100 * (busy - ours) / wall), 1),
                "loadavg": Path("/proc/loadavg").read_text().split()[:3]}
