"""Where the bridge spends its time under load: py-spy samples the running bridge process
(without pausing it) while a trial runs, and the samples are summed per function."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

OWN_CODE = ("telephony/", "queueing/", "ivr/", "hotline/")


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found if Path(found).exists() else None


def start_profile(pid: int, out_dir: Path, seconds: float) -> subprocess.Popen | None:
    """py-spy record for ``seconds``, as collapsed stacks (flamegraph.pl's input); None
    when py-spy is not installed."""
    binary = py_spy()
    if binary is None:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [binary, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100", "--nonblocking",
         "--format", "raw", "--output", str(out_dir / "bridge-profile.txt")],
        stdin=subprocess.DEVNULL, stdout=open(out_dir / "py-spy.log", "wb"), stderr=subprocess.STDOUT)


def finish_profile(proc: subprocess.Popen | None, out_dir: Path, top: int = 15) -> dict | None:
    if proc is None:
        return None
    proc.wait(timeout=120)
    raw = out_dir / "bridge-profile.txt"
    if not raw.exists():
        return None
    return summarize(raw, top) | {"collapsed_stacks": str(raw)}


def summarize(raw: Path, top: int = 15) -> dict:
    """Self time per function, time per top-level activity of the event loop, and the
    share spent in hotline's own code."""
    own: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        leaf[frames[-1]] += n
        for frame in reversed(frames):  # the innermost frame of our own code
            if any(part in frame for part in OWN_CODE):
                own[frame] += n
                break
        else:
            own["(library or event loop only)"] += n
    return {
        "samples": total,
        "self_time": [{"function": f, "share": n / total} for f, n in leaf.most_common(top)] if total else [],
        "innermost_own_frame": [{"function": f, "share": n / total} for f, n in own.most_common(top)] if total else [],
    }
